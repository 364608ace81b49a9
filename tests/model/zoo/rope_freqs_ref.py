#!/usr/bin/python3
"""RoPE frequencies and attention factors of every rope_scaling type, from make_zoo.py's torch
transcription of transformers' modeling_rope_utils.py, for several configs and sequence lengths.

  rope_freqs_ref.py OUT.json

Each case: {"name", "config": config.json, "rot_dim", "seq_len", "inv_freq": [...],
"attention_factor": x}. test_rope_freqs.cpp parses the config with hfkit's config parser and
compares make_rope()'s frequencies for a call ending at seq_len.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo import scaled_inv_freq  # noqa: E402


def llama(max_pos, rope_scaling, theta=10000.0, **kw):
    c = dict(model_type="llama", vocab_size=32, hidden_size=64, intermediate_size=64,
             num_hidden_layers=1, num_attention_heads=4, rope_theta=theta,
             max_position_embeddings=max_pos, rope_scaling=rope_scaling)
    c.update(kw)
    return c


YARN = {"rope_type": "yarn", "factor": 4.0}
CASES = [
    # name, config, rot_dim (head_dim 16, or partial), seq_len of the call
    ("linear", llama(256, {"rope_type": "linear", "factor": 2.5}), 16, 10),
    ("llama3", llama(512, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                           "high_freq_factor": 4.0, "original_max_position_embeddings": 128}),
     16, 10),
    ("dynamic-within", llama(32, {"rope_type": "dynamic", "factor": 2.0}), 16, 32),
    ("dynamic-beyond", llama(32, {"rope_type": "dynamic", "factor": 2.0}), 16, 33),
    ("dynamic-far", llama(32, {"rope_type": "dynamic", "factor": 3.0}), 16, 90),
    ("dynamic-partial", llama(20, {"rope_type": "dynamic", "factor": 2.0}), 6, 37),
    ("yarn-default", llama(4096, dict(YARN)), 16, 10),
    ("yarn-theta-beta", llama(256, {"rope_type": "yarn", "factor": 4.0, "beta_fast": 8.0,
                                    "beta_slow": 1.0, "original_max_position_embeddings": 64},
                              theta=100.0), 16, 10),
    ("yarn-no-truncate", llama(256, {"rope_type": "yarn", "factor": 4.0, "beta_fast": 8.0,
                                     "truncate": False}, theta=100.0), 16, 10),
    ("yarn-mscale", llama(1024, {"rope_type": "yarn", "factor": 8.0, "mscale": 0.707,
                                 "mscale_all_dim": 1.0}, theta=500.0), 16, 10),
    ("yarn-attention-factor", llama(1024, {"rope_type": "yarn", "factor": 2.0,
                                           "attention_factor": 0.8}), 12, 10),
    ("longrope-short", dict(llama(256, {"rope_type": "longrope",
                                        "short_factor": [1.0, 1.3, 1.7, 2.0, 3.5, 5.0],
                                        "long_factor": [1.2, 2.0, 4.0, 8.0, 16.0, 30.0]}),
                            model_type="phi3", original_max_position_embeddings=32), 12, 32),
    ("longrope-long", dict(llama(256, {"rope_type": "longrope",
                                       "short_factor": [1.0, 1.3, 1.7, 2.0, 3.5, 5.0],
                                       "long_factor": [1.2, 2.0, 4.0, 8.0, 16.0, 30.0]}),
                           model_type="phi3", original_max_position_embeddings=32), 12, 33),
]


def main():
    out = []
    for name, cfg, rot_dim, seq_len in CASES:
        inv, att = scaled_inv_freq(cfg, cfg["rope_theta"], rot_dim, seq_len)
        out.append({"name": name, "config": cfg, "rot_dim": rot_dim, "seq_len": seq_len,
                    "inv_freq": [float(x) for x in inv.to(torch.float64)],
                    "attention_factor": float(att)})
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
