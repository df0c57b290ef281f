#!/usr/bin/env bash
# setup_reference.sh: installs the independent reference tools that (re)generate the committed
# golden files and run the comparison benchmark. Not needed by `make test` (goldens are committed).
#   - PyTorch: Debian's python3-torch, used through /usr/bin/python3 (with python3-numpy)
#   - PyPI: tokenizers (HF reference tokenizer), gguf (reads/dequantizes GGUF), jinja2 (chat
#     templates), safetensors, llama-cpp-python (llama.cpp's tokenizer and speed reference)
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
for p in python3-torch python3-numpy python3-pip; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        sudo_if_needed apt-get update -qq
        sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
    fi
done
# The pyenv/default python3: pure-Python references and llama-cpp-python (built from source).
python3 -m pip install -q tokenizers gguf jinja2 safetensors numpy
python3 -c "import llama_cpp" 2>/dev/null || python3 -m pip install -q llama-cpp-python
# Debian's python (which has torch): the gguf reader for the PyTorch reference forward.
/usr/bin/python3 -c "import gguf, safetensors" 2>/dev/null ||
    /usr/bin/python3 -m pip install -q --break-system-packages gguf safetensors
