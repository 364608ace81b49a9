list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/dtype.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mmap_file.cpp
    ${CMAKE_CURRENT_LIST_DIR}/weight_arena.cpp
    ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
    ${CMAKE_CURRENT_LIST_DIR}/weights.cpp
    ${CMAKE_CURRENT_LIST_DIR}/config.cpp
    ${CMAKE_CURRENT_LIST_DIR}/generation_config.cpp
    ${CMAKE_CURRENT_LIST_DIR}/prequant.cpp
    ${CMAKE_CURRENT_LIST_DIR}/prequant_mlx.cpp
    ${CMAKE_CURRENT_LIST_DIR}/prequant_gptq_awq.cpp)
# MLX's w = scale * q + bias is two roundings; a fused multiply-add would give other bits.
# (Other flags than the engine's precompiled header was built with: clang would refuse it.)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/prequant.cpp PROPERTIES COMPILE_OPTIONS
    -ffp-contract=off SKIP_PRECOMPILE_HEADERS ON)
# model.cpp belongs to the compute helper; it is listed here once it exists.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/model.cpp)
    list(APPEND HFK_ENGINE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/model.cpp)
endif()
