# Download throughput from the local Hub (tests/hub/hub_server.py) against curl on the same file,
# and the cost of SHA-256, beside ../shared/BENCH.md. Run: build/bench/bench_hub [size_mb]
add_executable(bench_hub ${CMAKE_CURRENT_LIST_DIR}/bench_hub.cpp)
target_include_directories(bench_hub PRIVATE ${PROJECT_SOURCE_DIR}/tests/hub)
target_link_libraries(bench_hub PRIVATE hfkit_engine)
target_compile_definitions(bench_hub PRIVATE
    HFK_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}" HFK_BENCH_SHARED_DIR="${HFK_SHARED_DIR}")
