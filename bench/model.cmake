# bench_model CHECKPOINT_DIR [--threads 1,2] [--runs 5]: prefill 512 / decode 128 tokens/s, load time
# and resident memory, beside the llama.cpp rows of ../shared/BENCH.md.
add_executable(bench_model ${CMAKE_CURRENT_LIST_DIR}/bench_model.cpp)
target_link_libraries(bench_model PRIVATE hfkit_engine)

# bench_kernels: decode's matrix-vector products alone, against a plain read (Google Benchmark).
add_executable(bench_kernels ${CMAKE_CURRENT_LIST_DIR}/bench_kernels.cpp)
target_link_libraries(bench_kernels PRIVATE hfkit_engine benchmark::benchmark)

# bench_attention: a decode step's attention over a llama-135m-shaped cache, attention() against
# one dot_rows / axpy_rows call per head (Google Benchmark).
add_executable(bench_attention ${CMAKE_CURRENT_LIST_DIR}/bench_attention.cpp)
target_link_libraries(bench_attention PRIVATE hfkit_engine benchmark::benchmark)
if(HFK_BUILD_TESTS)
    # Runs (12 rows of BM_DecodeAttention, 4 of BM_DecodeAttentionPaged), and attention() agrees
    # with the per-head calls and the paged cache with the contiguous one (else a row is an error).
    add_test(NAME bench.attention_runs
             COMMAND sh -c "out=$(\"$0\" \"$@\" 2>&1) && printf '%s\\n' \"$out\" &&
                            ! printf '%s\\n' \"$out\" | grep -q 'ERROR OCCURRED' &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '^BM_DecodeAttention') -eq 16 ]"
                     $<TARGET_FILE:bench_attention> --benchmark_filter=ctx:256
                     --benchmark_min_time=0.01)
    set_tests_properties(bench.attention_runs PROPERTIES LABELS "unit;nosan" TIMEOUT 120)
endif()

# Smoke runs on tiny checkpoints: their figures mean nothing, but every path of the benchmark
# (cold start, both thread counts, the paired read) must run to the end: exit status 0, a table
# row for each thread count and the paired line.
if(HFK_BUILD_TESTS)
    foreach(model tiny-llama-gqa-bf16 tiny-gpt2-f32)
        add_test(NAME bench.model_runs.${model}
                 COMMAND sh -c "out=$(\"$0\" \"$@\") && printf '%s\\n' \"$out\" &&
                                [ $(printf '%s\\n' \"$out\" | grep -c '^| other |') -eq 2 ] &&
                                printf '%s\\n' \"$out\" | grep -Eq 'decode at [0-9]+%'"
                         $<TARGET_FILE:bench_model> ${HFK_SHARED_DIR}/models/tiny/${model}
                         --threads 1,2 --runs 1 --pp 8 --tg 4)
        set_tests_properties(bench.model_runs.${model} PROPERTIES LABELS unit)
    endforeach()
    # A MoE checkpoint (the model zoo's Mixtral): its row, and decode's bytes per token equal to
    # the inspector's active parameters, not the total.
    add_test(NAME bench.model_runs.zoo-mixtral
             COMMAND sh -c "out=$(\"$0\" \"$@\") && printf '%s\\n' \"$out\" &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '^| other |') -eq 2 ] &&
                            printf '%s\\n' \"$out\" | grep -q 'decode bytes = the active parameters'"
                     $<TARGET_FILE:bench_model> ${PROJECT_BINARY_DIR}/tests/model/zoo/mixtral
                     --threads 1,2 --runs 1 --pp 8 --tg 4 --warm 1)
    set_tests_properties(bench.model_runs.zoo-mixtral PROPERTIES LABELS unit
                         FIXTURES_REQUIRED zoo_reference)
endif()

# quant_quality CHECKPOINT_DIR --quant q8|q4 [--text FILE]: mean / p99 KL divergence, top-1
# agreement and perplexity of a quantized model against the model as stored (issue 18).
add_executable(quant_quality ${CMAKE_CURRENT_LIST_DIR}/quant_quality.cpp)
target_link_libraries(quant_quality PRIVATE hfkit_engine)

# bench_model --quant q8,q4: the quantized rows beside the checkpoint's own in one run (two more
# rows per thread count), each format's decode paired with the checkpoint's (a ratio per thread
# count) and its share of the read. A smoke run: the figures mean nothing on a tiny checkpoint.
if(HFK_BUILD_TESTS)
    add_test(NAME bench.model_runs_quant
             COMMAND sh -c "out=$(\"$0\" \"$@\") && printf '%s\\n' \"$out\" &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '^| other |') -eq 6 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '| Q8_0 |') -eq 2 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '| Q4_1 |') -eq 2 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -Ec '^  [12] thread[(]s[)]: (Q8_0|Q4_1) [0-9.]+ tok/s, BF16 [0-9.]+ tok/s: [0-9.]+x') -eq 4 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -Ec '^1-thread (Q8_0|Q4_1) decode .* decode at [0-9]+%') -eq 2 ]"
                     $<TARGET_FILE:bench_model> ${HFK_SHARED_DIR}/models/tiny/tiny-llama-gqa-bf16
                     --threads 1,2 --runs 1 --pp 8 --tg 4 --quant q8,q4)
    set_tests_properties(bench.model_runs_quant PROPERTIES LABELS unit)
    # One row per zoo architecture (tests/model/zoo/make_zoo.py's random checkpoints, from the
    # zoo_reference fixture): the same smoke run, so bench_model prints every new family.
    foreach(model qwen3 gemma2 gemma3 phi3 phi2 smollm3 qwen3-yarn)
        add_test(NAME bench.model_runs.zoo.${model}
                 COMMAND sh -c "out=$(\"$0\" \"$@\") && printf '%s\\n' \"$out\" &&
                                [ $(printf '%s\\n' \"$out\" | grep -c '^| other |') -eq 2 ] &&
                                printf '%s\\n' \"$out\" | grep -Eq 'decode at [0-9]+%'"
                         $<TARGET_FILE:bench_model> ${PROJECT_BINARY_DIR}/tests/model/zoo/${model}
                         --threads 1,2 --runs 1 --pp 8 --tg 4)
        set_tests_properties(bench.model_runs.zoo.${model} PROPERTIES LABELS unit
                             FIXTURES_REQUIRED zoo_reference)
    endforeach()
endif()

# A 16-bit checkpoint: the share of the read for the default rows per pass of the decode
# kernels (each layout its own) and each choice forced on both (1, 2, 4) with the CPU family's
# prefetch, the default with the other prefetch setting, and the one chosen (issue 22). A smoke
# run: the figures mean nothing here.
if(HFK_BUILD_TESTS)
    add_test(NAME bench.model_rows_per_pass
             COMMAND sh -c "out=$(\"$0\" \"$@\") && printf '%s\\n' \"$out\" &&
                            [ $(printf '%s\\n' \"$out\" | grep -Ec '^  [124] rows? +per pass, +prefetch +[0-9]+ B: decode at [0-9]+%') -eq 3 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -Ec '^  default \\([124] \\[out, in\\], [124] \\[in, out\\]\\), +prefetch +[0-9]+ B: decode at [0-9]+%') -eq 2 ] &&
                            [ $(printf '%s\\n' \"$out\" | grep -c '<- chosen') -eq 1 ] &&
                            printf '%s\\n' \"$out\" | grep -Eq '^  chosen: [124] row\\(s\\) per pass for \\[out, in\\], [124] for \\[in, out\\] \\(CPU family .*prefetch [0-9]+ B \\(CPU family '"
                     $<TARGET_FILE:bench_model> ${HFK_SHARED_DIR}/models/tiny/tiny-llama-gqa-bf16
                     --threads 1 --runs 1 --pp 8 --tg 4 --warm 1)
    set_tests_properties(bench.model_rows_per_pass PROPERTIES LABELS unit)
endif()
