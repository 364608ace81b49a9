list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/grammar.cpp
    ${CMAKE_CURRENT_LIST_DIR}/utf8_ranges.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gbnf_parser.cpp
    ${CMAKE_CURRENT_LIST_DIR}/regex_to_gbnf.cpp
    ${CMAKE_CURRENT_LIST_DIR}/json_schema.cpp
    ${CMAKE_CURRENT_LIST_DIR}/stack_engine.cpp
    ${CMAKE_CURRENT_LIST_DIR}/vocab_trie.cpp
    ${CMAKE_CURRENT_LIST_DIR}/token_mask.cpp
    ${CMAKE_CURRENT_LIST_DIR}/constraint.cpp
    ${CMAKE_CURRENT_LIST_DIR}/utf8_stream.cpp)
