#!/usr/bin/env bash
# setup.sh: installs what ftune needs on a fresh Debian 12 machine, idempotently and quietly when
# everything is already there. Debian packages with apt-get (build and run), Python packages with
# pip (the tests' helpers). Reference tools that only regenerate committed golden files (PyTorch,
# tokenizers) are installed by scripts/setup_reference.sh, not here; llama-cpp-python and gguf are
# here because tests/cli/export_gguf.sh runs the exported GGUF files in llama.cpp itself.
set -euo pipefail

DEB_PACKAGES=(build-essential libopenblas-openmp-dev libdnnl-dev libjansson-dev libpcre2-dev libsqlite3-dev
              libmicrohttpd-dev libcurl4-openssl-dev libssl-dev pkg-config ca-certificates python3 python3-pip unzip
              chromium chromium-driver libpq-dev postgresql libopenmpi-dev openmpi-bin iproute2)
# libpq-dev: the store's PostgreSQL backend (ftune serve --database); postgresql: the server binaries
# (initdb, pg_ctl) the tests start a throwaway cluster with (tests/pg_cluster.sh); its own service
# is not used. Open MPI (libopenmpi-dev, openmpi-bin) for data-parallel training under mpirun,
# iproute2 for its test across network namespaces (tests/cli/train_mpi.sh); the Makefile builds
# without MPI where it is absent.
# The official OpenAI SDK is the end-to-end tests' and the demo's client; Selenium drives headless
# Chromium to check that `ftune eval --html` renders; jsonschema validates structured outputs in the
# e2e tests (all pinned: the versions tested).
PY_PACKAGES=(numpy openai==3.57.0 selenium==4.51.0 jsonschema==4.26.0)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
pymissing=()
for p in "${PY_PACKAGES[@]}"; do
    module=${p%%==*}
    want=${p#*==}
    [ "$want" = "$p" ] && want=""
    "$PY" -c "import $module, sys; sys.exit(0 if not '$want' or $module.__version__ == '$want' else 1)" 2>/dev/null ||
        pymissing+=("$p")
done
# axe-core, for the web console's accessibility check (tests/e2e/test_console.py): this package
# bundles axe.min.js; it has no __version__, so its distribution's version is checked.
"$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('axe-selenium-python') != '2.1.6')" 2>/dev/null ||
    pymissing+=("axe-selenium-python==2.1.6")
if [ ${#pymissing[@]} -gt 0 ]; then
    echo "setup: installing Python packages: ${pymissing[*]}"
    "$PY" -m pip install -q "${pymissing[@]}" 2>/dev/null ||
        "$PY" -m pip install -q --break-system-packages "${pymissing[@]}"
fi

# The GGUF export test checks ftune's files with llama.cpp and PyPI gguf's reader, rendering chat
# prompts with jinja2 (pinned: the versions tested). llama-cpp-python builds llama.cpp from source
# once (a few minutes on 2 cores).
for spec in gguf:gguf==0.19.0 jinja2:jinja2==3.1.6 llama_cpp:llama-cpp-python==0.3.36; do
    "$PY" -c "import ${spec%%:*}" 2>/dev/null && continue
    echo "setup: installing ${spec#*:}"
    "$PY" -m pip install -q "${spec#*:}" 2>/dev/null || "$PY" -m pip install -q --break-system-packages "${spec#*:}"
done
