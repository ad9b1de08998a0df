#!/usr/bin/env bash
# Rebuild the clean-photo training corpus and check it file by file against corpus/manifest.csv.
# Usage (Debian 12, as root, network access to Debian and PyPI):
#   scripts/build_corpus.sh OUT_DIR [PATH_TO/build_clean_photos.py]
set -euo pipefail
out=${1:?usage: scripts/build_corpus.sh OUT_DIR [build_clean_photos.py]}
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${2:-$here/../shared/tools/build_clean_photos.py}
apt-get update -qq
python3 "$tool" --out "$out"
restore train verify-corpus "$out" --manifest "$here/corpus/manifest.csv"
