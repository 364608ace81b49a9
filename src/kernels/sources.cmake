list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cpu.cpp
    ${CMAKE_CURRENT_LIST_DIR}/simd.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rows_per_pass.cpp
    ${CMAKE_CURRENT_LIST_DIR}/thread_pool.cpp
    ${CMAKE_CURRENT_LIST_DIR}/matmul.cpp
    ${CMAKE_CURRENT_LIST_DIR}/bf16_compute.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quant.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quant_kernels.cpp
    ${CMAKE_CURRENT_LIST_DIR}/attention.cpp
    ${CMAKE_CURRENT_LIST_DIR}/ops.cpp)
