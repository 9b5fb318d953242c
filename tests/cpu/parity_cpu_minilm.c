/*
 * parity_cpu_minilm.c - (a) the real all-MiniLM-L6-v2 encoder with a seeded
 * classifier head (gen-model --encoder) against HF transformers on 2,000
 * real responses, every length 2..512. See parity_cpu.h.
 */
#include "parity_cpu.h"

int main(void)
{
    return parity_cpu_run("parity_cpu_minilm", "minilm_seeded_head.bin.zst",
                          "gen-model --seed 42 --encoder \"$IFS_MODELS_DIR/all-MiniLM-L6-v2\"",
                          "all-MiniLM-L6-v2");
}
