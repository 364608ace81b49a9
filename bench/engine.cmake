# The continuous-batching engine: aggregate tokens/s and time-to-first-token by stream count.
add_executable(bench_engine ${CMAKE_CURRENT_LIST_DIR}/bench_engine.cpp)
target_link_libraries(bench_engine PRIVATE hfkit_engine)
target_compile_definitions(bench_engine PRIVATE HFK_SHARED_DIR_DEFAULT="${HFK_SHARED_DIR}")
