# Tokenizer encode throughput (MB/s, one thread) on shared/bench/corpus-10mb.txt, printed beside
# the reference figures of shared/BENCH.md, with the exact token counts and id hashes checked.
add_executable(bench_tokenizer ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.cpp)
target_link_libraries(bench_tokenizer PRIVATE hfkit_engine)
target_compile_definitions(bench_tokenizer PRIVATE HFK_SHARED_DIR_DEFAULT="${HFK_SHARED_DIR}")
