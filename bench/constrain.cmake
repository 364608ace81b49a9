# Constrained decoding: mask time per token on GPT-2's vocabulary and decode overhead.
add_executable(bench_constrain ${CMAKE_CURRENT_LIST_DIR}/bench_constrain.cpp)
target_link_libraries(bench_constrain PRIVATE hfkit_engine)
target_compile_definitions(bench_constrain PRIVATE HFK_SHARED_DIR_DEFAULT="${HFK_SHARED_DIR}")
