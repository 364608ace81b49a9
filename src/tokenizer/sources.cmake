list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/utf8.cpp
    ${CMAKE_CURRENT_LIST_DIR}/unicode.cpp
    ${CMAKE_CURRENT_LIST_DIR}/regex.cpp
    ${CMAKE_CURRENT_LIST_DIR}/pattern.cpp
    ${CMAKE_CURRENT_LIST_DIR}/normalizers.cpp
    ${CMAKE_CURRENT_LIST_DIR}/precompiled.cpp
    ${CMAKE_CURRENT_LIST_DIR}/pre_tokenizers.cpp
    ${CMAKE_CURRENT_LIST_DIR}/vocab.cpp
    ${CMAKE_CURRENT_LIST_DIR}/bpe.cpp
    ${CMAKE_CURRENT_LIST_DIR}/wordpiece.cpp
    ${CMAKE_CURRENT_LIST_DIR}/unigram.cpp
    ${CMAKE_CURRENT_LIST_DIR}/post_processors.cpp
    ${CMAKE_CURRENT_LIST_DIR}/decoders.cpp
    ${CMAKE_CURRENT_LIST_DIR}/added_vocabulary.cpp
    ${CMAKE_CURRENT_LIST_DIR}/legacy.cpp
    ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp)
