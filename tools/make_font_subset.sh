#!/bin/sh
# Makes the fonts embedded in rkeras for PNG rendering (crates/rkeras/data/fonts/): DejaVu Sans
# and DejaVu Sans Bold 2.37 (Debian package fonts-dejavu-core) cut down to Latin-1, Greek and
# the symbols the plots print (× · − → ⌊ ⌋ …), without hinting, with kerning kept.
# Needs fontTools (`pip install fonttools`; made with 4.68.0) and the package's TTFs.
# Run by hand; the output is committed.
set -eu
src=${DEJAVU_DIR:-/usr/share/fonts/truetype/dejavu}
out=$(dirname "$0")/../crates/rkeras/data/fonts
unicodes="U+0020-007E,U+00A0-00FF,U+0131,U+0152-0153,U+0160-0161,U+0178,U+017D-017E,U+0192,\
U+02C6,U+02DC,U+0391-03A9,U+03B1-03C9,U+2010-2027,U+2030,U+2039-203A,U+2070-2079,U+2080-2089,\
U+20AC,U+2122,U+2190-2195,U+2202,U+2206,U+220F,U+2211,U+2212,U+221A,U+221E,U+2248,U+2260,\
U+2264-2265,U+22C5,U+2308-230B,U+25A0-25CF"
for f in DejaVuSans DejaVuSans-Bold; do
    pyftsubset "$src/$f.ttf" --unicodes="$unicodes" --layout-features='kern,liga' \
        --no-hinting --desubroutinize --output-file="$out/$f.ttf"
done
