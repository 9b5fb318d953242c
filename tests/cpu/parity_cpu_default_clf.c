/*
 * parity_cpu_default_clf.c - the default classifier (all-MiniLM-L6-v2 +
 * the head in models/ifs-tone-minilm-l6, joined by attach-head) against HF
 * transformers on 400 real responses, every length 2..64 (its model_max_length)
 * and a tenth whole, up to 512 tokens; the last encoder layer is the one
 * train-head --train-layers 1 fine-tuned.
 * Shows the checkpoint train-head/attach-head write is one HF loads and
 * computes identically. See parity_cpu.h.
 */
#include "parity_cpu.h"

int main(void)
{
    return parity_cpu_run("parity_cpu_default_clf", "default_clf.bin.zst",
                          "attach-head --encoder \"$IFS_MODELS_DIR/all-MiniLM-L6-v2\" "
                          "--head \"$IFS_SOURCE_DIR/models/ifs-tone-minilm-l6\"",
                          "all-MiniLM-L6-v2");
}
