list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/dtype.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mmap_file.cpp
    ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
    ${CMAKE_CURRENT_LIST_DIR}/weights.cpp
    ${CMAKE_CURRENT_LIST_DIR}/config.cpp
    ${CMAKE_CURRENT_LIST_DIR}/generation_config.cpp)
# model.cpp belongs to the compute helper; it is listed here once it exists.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/model.cpp)
    list(APPEND HFK_ENGINE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/model.cpp)
endif()
