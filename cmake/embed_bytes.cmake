# cmake -DIN=file -DOUT=file.inc -P embed_bytes.cmake: the bytes of IN as a C initializer list.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(([^,]*,){24})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "${bytes}\n")
