list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/param_count.cpp
    ${CMAKE_CURRENT_LIST_DIR}/model_files.cpp
    ${CMAKE_CURRENT_LIST_DIR}/weight_headers.cpp
    ${CMAKE_CURRENT_LIST_DIR}/machine.cpp
    ${CMAKE_CURRENT_LIST_DIR}/inspect.cpp)
