# The chat-template engine: a sandboxed Jinja interpreter, and where templates come from.
list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/value.cpp
    ${CMAKE_CURRENT_LIST_DIR}/strings.cpp
    ${CMAKE_CURRENT_LIST_DIR}/percent_format.cpp
    ${CMAKE_CURRENT_LIST_DIR}/lexer.cpp
    ${CMAKE_CURRENT_LIST_DIR}/parser.cpp
    ${CMAKE_CURRENT_LIST_DIR}/interpreter.cpp
    ${CMAKE_CURRENT_LIST_DIR}/filters.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tests.cpp
    ${CMAKE_CURRENT_LIST_DIR}/methods.cpp
    ${CMAKE_CURRENT_LIST_DIR}/globals.cpp
    ${CMAKE_CURRENT_LIST_DIR}/json_convert.cpp
    ${CMAKE_CURRENT_LIST_DIR}/template.cpp
    ${CMAKE_CURRENT_LIST_DIR}/chat_render.cpp
    ${CMAKE_CURRENT_LIST_DIR}/model_templates.cpp)
