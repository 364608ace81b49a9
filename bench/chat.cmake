# Chat-template render time: the longest shared template with tools over a 10-message
# conversation (issue 16's target is < 100 us; printed only).
add_executable(bench_chat ${CMAKE_CURRENT_LIST_DIR}/bench_chat.cpp)
target_link_libraries(bench_chat PRIVATE hfkit_engine benchmark::benchmark)
target_compile_definitions(bench_chat PRIVATE HFK_SHARED_DIR_DEFAULT="${HFK_SHARED_DIR}")
