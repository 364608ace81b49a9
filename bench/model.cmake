# bench_model CHECKPOINT_DIR [--threads 1,2] [--runs 5]: prefill 512 / decode 128 tokens/s, load time
# and resident memory, beside the llama.cpp rows of ../shared/BENCH.md.
add_executable(bench_model ${CMAKE_CURRENT_LIST_DIR}/bench_model.cpp)
target_link_libraries(bench_model PRIVATE hfkit_engine)

# bench_kernels: decode's matrix-vector products alone, against a plain read (Google Benchmark).
add_executable(bench_kernels ${CMAKE_CURRENT_LIST_DIR}/bench_kernels.cpp)
target_link_libraries(bench_kernels PRIVATE hfkit_engine benchmark::benchmark)
