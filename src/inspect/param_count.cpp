// Parameter counts from config.json alone, one formula per family, written the way the
// transformers modules build their layers (so each term can be checked against a real header).
// Every product is overflow-checked: the config is untrusted and its sizes are only capped one by
// one (config.h), so their products can still wrap.
#include <cctype>
#include <initializer_list>
#include <string>

#include "inspect/family.h"
#include "inspect/inspect.h"
#include "util/error.h"

namespace hfk {

namespace {

using json = nlohmann::json;

// No real model is within three orders of magnitude of this; above it the config is nonsense.
constexpr uint64_t kMaxParameters = uint64_t(1) << 50;

enum class Family { Gpt2, Bert, DistilBert, ModernBert, LlamaLike, Phi, GenericDecoder, Unknown };

// The language model's model_type: text_config's for a multimodal config, else the top level's.
std::string text_model_type(const ModelConfig &c) {
    if (c.raw.is_object()) {
        auto tc = c.raw.find("text_config");
        if (tc != c.raw.end() && tc->is_object()) {
            auto mt = tc->find("model_type");
            if (mt != tc->end() && mt->is_string()) return mt->get<std::string>();
        }
    }
    if (!c.model_type.empty()) return c.model_type;
    if (!c.architectures.empty()) {
        const std::string &a = c.architectures.front();
        for (const char *p :
             {"GPT2", "Bert", "DistilBert", "Roberta", "Llama", "Mistral", "Mixtral", "Qwen2"})
            if (a.rfind(p, 0) == 0 && a.rfind("Qwen2Moe", 0) != 0 && a.rfind("Qwen2VL", 0) != 0) {
                std::string t = p;
                for (char &ch : t) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                return t;
            }
    }
    return {};
}

Family family_of(const ModelConfig &c) {
    const std::string t = text_model_type(c);
    if (t == "gpt2") return Family::Gpt2;
    if (t == "bert" || t == "roberta" || t == "xlm-roberta" || t == "camembert")
        return Family::Bert;
    if (t == "phi") return Family::Phi;
    if (t == "distilbert") return Family::DistilBert;
    if (t == "modernbert") return Family::ModernBert;
    if (t == "llama" || t == "mistral" || t == "qwen2" || t == "mixtral" || t == "qwen3" ||
        t == "qwen3_moe" || t == "gemma" || t == "gemma2" || t == "gemma3_text" || t == "smollm3" ||
        t == "phi3")
        return Family::LlamaLike;
    if (c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 &&
        c.intermediate_size > 0)
        return Family::GenericDecoder;
    return Family::Unknown;
}

}  // namespace

bool encoder_only(const ModelConfig &c) {
    const Family f = family_of(c);
    return f == Family::Bert || f == Family::DistilBert || f == Family::ModernBert;
}

// The parsed flag defaults to "tied" for model types config.h does not know (PretrainedConfig's
// default), but Mixtral, like Llama, defaults to untied.
bool tied_embeddings(const ModelConfig &c) {
    auto has = [](const json &o) {
        return o.is_object() && o.contains("tie_word_embeddings") &&
               !o["tie_word_embeddings"].is_null();
    };
    bool explicit_flag = has(c.raw);
    if (c.raw.is_object() && c.raw.contains("text_config"))
        explicit_flag |= has(c.raw["text_config"]);
    if (!explicit_flag && text_model_type(c) == "mixtral") return false;
    return c.tie_word_embeddings;
}

namespace {

bool tied(const ModelConfig &c) {
    return tied_embeddings(c);
}

// A checked running sum of products.
class Count {
  public:
    explicit Count(const ModelConfig &c) : c_(c) {}
    Count &add(std::initializer_list<int64_t> factors) {
        uint64_t p = 1;
        for (int64_t f : factors) {
            if (f < 0 || __builtin_mul_overflow(p, uint64_t(f), &p) || p > kMaxParameters) absurd();
        }
        if (__builtin_add_overflow(total_, p, &total_) || total_ > kMaxParameters) absurd();
        return *this;
    }
    Count &add_times(int64_t n, uint64_t value) {
        uint64_t p = 0;
        if (n < 0 || __builtin_mul_overflow(uint64_t(n), value, &p) || p > kMaxParameters) absurd();
        if (__builtin_add_overflow(total_, p, &total_) || total_ > kMaxParameters) absurd();
        return *this;
    }
    uint64_t total() const { return total_; }

  private:
    [[noreturn]] void absurd() const {
        fail(HFK_E_FORMAT, "config: the sizes give more than 2^50 parameters (vocab_size " +
                               std::to_string(c_.vocab_size) + ", hidden_size " +
                               std::to_string(c_.hidden_size) + ", layers " +
                               std::to_string(c_.num_layers) + ", intermediate_size " +
                               std::to_string(c_.intermediate_size) + ", experts " +
                               std::to_string(c_.num_experts) + "): not a real model");
    }
    const ModelConfig &c_;
    uint64_t total_ = 0;
};

// GPT2Model: wte, wpe, per block ln_1, c_attn (Conv1D h -> 3h, biased), c_proj, ln_2, c_fc
// (h -> n_inner), mlp c_proj; ln_f. The LM head is tied to wte unless the config says otherwise.
uint64_t count_gpt2(const ModelConfig &c) {
    const int64_t h = c.hidden_size, inner = c.intermediate_size > 0 ? c.intermediate_size : 4 * h;
    Count block(c);
    block.add({2, h});                   // ln_1
    block.add({h, 3 * h}).add({3 * h});  // attn.c_attn
    block.add({h, h}).add({h});          // attn.c_proj
    block.add({2, h});                   // ln_2
    block.add({h, inner}).add({inner});  // mlp.c_fc
    block.add({inner, h}).add({h});      // mlp.c_proj
    Count n(c);
    n.add({c.vocab_size, h}).add({c.max_position_embeddings, h});
    n.add_times(c.num_layers, block.total());
    n.add({2, h});  // ln_f
    if (!tied(c)) n.add({c.vocab_size, h});
    return n.total();
}

// BertModel with its pooler: word/position/token-type embeddings + LayerNorm; per layer q, k, v,
// attention output dense, LayerNorm, intermediate, output dense, LayerNorm (all biased).
uint64_t count_bert(const ModelConfig &c) {
    const int64_t h = c.hidden_size, inter = c.intermediate_size;
    Count layer(c);
    layer.add({4, h, h}).add({4, h});    // query, key, value, attention.output.dense
    layer.add({2, h});                   // attention.output.LayerNorm
    layer.add({h, inter}).add({inter});  // intermediate.dense
    layer.add({inter, h}).add({h});      // output.dense
    layer.add({2, h});                   // output.LayerNorm
    Count n(c);
    n.add({c.vocab_size, h}).add({c.max_position_embeddings, h}).add({c.type_vocab_size, h});
    n.add({2, h});  // embeddings.LayerNorm
    n.add_times(c.num_layers, layer.total());
    n.add({h, h}).add({h});  // pooler.dense
    return n.total();
}

// PhiForCausalLM: embed_tokens; per layer input_layernorm (weight, bias), q/k/v/dense with
// biases, optional q/k LayerNorms (head_dim weight + bias each), fc1/fc2 with biases;
// final_layernorm; lm_head with a bias (its weight tied or not).
uint64_t count_phi(const ModelConfig &c) {
    const int64_t h = c.hidden_size, hd = c.head_dim > 0 ? c.head_dim : h / c.num_heads;
    const int64_t q = c.num_heads * hd,
                  kv = (c.num_kv_heads > 0 ? c.num_kv_heads : c.num_heads) * hd,
                  ffn = c.intermediate_size;
    Count layer(c);
    layer.add({2, h});                                        // input_layernorm
    layer.add({h, q}).add({q}).add({2, h, kv}).add({2, kv});  // q, k, v
    layer.add({q, h}).add({h});                               // dense
    if (c.qk_layernorm) layer.add({4, hd});                   // q_layernorm, k_layernorm
    layer.add({h, ffn}).add({ffn}).add({ffn, h}).add({h});    // fc1, fc2
    Count n(c);
    n.add({c.vocab_size, h}).add_times(c.num_layers, layer.total()).add({2, h});
    if (!tied(c)) n.add({c.vocab_size, h});
    n.add({c.vocab_size});  // lm_head.bias
    return n.total();
}

// DistilBertModel (config.h reads dim / hidden_dim into hidden_size / intermediate_size):
// word and position embeddings (a table even when sinusoidal) + LayerNorm; per layer q_lin,
// k_lin, v_lin, out_lin, sa_layer_norm, ffn.lin1, ffn.lin2, output_layer_norm (all biased). No
// token types, no pooler.
uint64_t count_distilbert(const ModelConfig &c) {
    const int64_t h = c.hidden_size, inter = c.intermediate_size;
    Count layer(c);
    layer.add({4, h, h}).add({4, h});    // q_lin, k_lin, v_lin, out_lin
    layer.add({2, h});                   // sa_layer_norm
    layer.add({h, inter}).add({inter});  // ffn.lin1
    layer.add({inter, h}).add({h});      // ffn.lin2
    layer.add({2, h});                   // output_layer_norm
    Count n(c);
    n.add({c.vocab_size, h}).add({c.max_position_embeddings, h});
    n.add({2, h});  // embeddings.LayerNorm
    n.add_times(c.num_layers, layer.total());
    return n.total();
}

// ModernBertModel: tok_embeddings + norm; per layer attn_norm (not on layer 0), attn.Wqkv
// (h -> 3h), attn.Wo, mlp_norm, mlp.Wi (h -> 2 intermediate), mlp.Wo; final_norm. LayerNorms
// carry biases with norm_bias, projections with attention_bias / mlp_bias.
uint64_t count_modernbert(const ModelConfig &c) {
    const int64_t h = c.hidden_size, inter = c.intermediate_size;
    auto flag = [&](const char *key) {
        auto it = c.raw.is_object() ? c.raw.find(key) : c.raw.end();
        return it != c.raw.end() && it->is_boolean() && it->get<bool>();
    };
    const int64_t norm = flag("norm_bias") ? 2 * h : h;
    const bool attn_bias = flag("attention_bias"), mlp_bias = flag("mlp_bias");
    Count layer(c);
    layer.add({3 * h, h}).add({h, h});  // attn.Wqkv, attn.Wo
    if (attn_bias) layer.add({4 * h});
    layer.add({norm});                          // mlp_norm
    layer.add({2 * inter, h}).add({h, inter});  // mlp.Wi, mlp.Wo
    if (mlp_bias) layer.add({2 * inter + h});
    Count n(c);
    n.add({c.vocab_size, h}).add({norm});  // tok_embeddings, embeddings.norm
    n.add_times(c.num_layers, layer.total());
    n.add_times(c.num_layers - 1, uint64_t(norm));  // attn_norm of layers 1..
    n.add({norm});                                  // final_norm
    return n.total();
}

// LlamaModel and its relatives: embed_tokens; per layer q/k/v/o with grouped KV heads (q/k/v
// biases for Qwen2 or attention_bias, o bias only with attention_bias), the gated MLP (gate, up,
// down; mlp_bias adds biases), two RMSNorm weights; the final norm; lm_head unless tied.
// Mixtral replaces the MLP with num_local_experts gated MLPs and a router (hidden -> experts);
// Qwen3-MoE does so on its sparse layers, experts of moe_intermediate_size.
// Qwen3 and Gemma 3 add q_norm and k_norm (head_dim each) per layer; Gemma 2 and 3 two more
// norms per layer (pre_feedforward_layernorm, post_feedforward_layernorm).
uint64_t count_llama_like(const ModelConfig &c, uint64_t *active_out) {
    const int64_t h = c.hidden_size, hd = c.head_dim > 0 ? c.head_dim : h / c.num_heads;
    const int64_t q = c.num_heads * hd,
                  kv = (c.num_kv_heads > 0 ? c.num_kv_heads : c.num_heads) * hd;
    Count attn(c);
    attn.add({h, q}).add({h, kv}).add({h, kv}).add({q, h});
    if (c.qkv_bias) attn.add({q}).add({kv}).add({kv});
    if (c.attention_bias) attn.add({h});
    Count mlp(c);
    mlp.add({3, h, c.intermediate_size});
    if (c.mlp_bias) mlp.add({2, c.intermediate_size}).add({h});
    const bool moe = c.num_experts > 1;
    const int64_t experts = moe ? c.num_experts : 1;
    const int64_t routed = moe ? (c.num_experts_per_tok > 0 ? c.num_experts_per_tok : 1) : 1;
    // One expert: a gated MLP of moe_intermediate_size (Qwen3-MoE) or intermediate_size.
    Count expert(c);
    expert.add({3, h, c.moe_intermediate_size > 0 ? c.moe_intermediate_size : c.intermediate_size});

    const std::string t = text_model_type(c);
    if (t == "qwen3" || t == "qwen3_moe" || t == "gemma3_text")
        attn.add({2, hd});  // q_norm, k_norm
    const int64_t norms = t == "gemma2" || t == "gemma3_text" ? 4 : 2;
    Count shared(c);
    shared.add_times(1, attn.total()).add({norms, h});  // attention, the block's norms
    // Per layer: the dense MLP, or (MoE layers: all of Mixtral's, Qwen3-MoE's by
    // decoder_sparse_step / mlp_only_layers) a router and the experts, top-k of them active.
    Count n(c), active(c);
    for (int64_t l = 0; l < c.num_layers; ++l) {
        const bool sparse = moe && (c.layer_sparse.empty() || (size_t(l) < c.layer_sparse.size() &&
                                                               c.layer_sparse[size_t(l)]));
        for (Count *x : {&n, &active}) x->add_times(1, shared.total());
        if (!sparse) {
            for (Count *x : {&n, &active}) x->add_times(1, mlp.total());
            continue;
        }
        for (Count *x : {&n, &active}) x->add({h, experts});  // router
        n.add_times(experts, expert.total());
        active.add_times(routed, expert.total());
    }

    Count outer(c);
    outer.add({c.vocab_size, h}).add({h});  // embed_tokens, norm
    if (!tied(c)) outer.add({c.vocab_size, h});
    n.add_times(1, outer.total());
    active.add_times(1, outer.total());
    if (active_out) *active_out = active.total();
    return n.total();
}

}  // namespace

std::string parameter_count_method(const ModelConfig &cfg) {
    switch (family_of(cfg)) {
        case Family::Gpt2:
        case Family::Bert:
        case Family::DistilBert:
        case Family::ModernBert:
        case Family::LlamaLike:
        case Family::Phi:
            return "config";
        case Family::GenericDecoder:
            return "estimate";
        case Family::Unknown:
            break;
    }
    return "unknown";
}

uint64_t count_parameters_from_config(const ModelConfig &c, uint64_t *active_out) {
    if (active_out) *active_out = 0;
    const Family fam = family_of(c);
    // The formulas need these; config.h already capped each one.
    const bool sized = c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0;
    uint64_t total = 0;
    switch (fam) {
        case Family::Gpt2:
            if (!sized || c.max_position_embeddings <= 0) return 0;
            total = count_gpt2(c);
            break;
        case Family::Bert:
            if (!sized || c.intermediate_size <= 0 || c.max_position_embeddings <= 0) return 0;
            total = count_bert(c);
            break;
        case Family::Phi:
            if (!sized || c.num_heads <= 0 || c.intermediate_size <= 0) return 0;
            total = count_phi(c);
            break;
        case Family::DistilBert:
            if (!sized || c.intermediate_size <= 0 || c.max_position_embeddings <= 0) return 0;
            total = count_distilbert(c);
            break;
        case Family::ModernBert:
            if (!sized || c.intermediate_size <= 0) return 0;
            total = count_modernbert(c);
            break;
        case Family::LlamaLike:
        case Family::GenericDecoder:
            if (!sized || c.num_heads <= 0 || c.intermediate_size <= 0) return 0;
            return count_llama_like(c, active_out);
        case Family::Unknown:
            return 0;
    }
    if (active_out) *active_out = total;
    return total;
}

}  // namespace hfk
