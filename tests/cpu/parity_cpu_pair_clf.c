/*
 * parity_cpu_pair_clf.c - the shipped pair classifier (all-MiniLM-L6-v2 + the
 * head in models/ifs-tone-minilm-l6-pair, joined by attach-head) against HF
 * transformers on 400 real (instruction, response) pairs with token types,
 * every length 8..96 (its model_max_length) and a tenth whole, up to 512
 * tokens; the top two encoder layers are the ones train-head --train-layers 2
 * fine-tuned. Shows the pair checkpoint train-head/attach-head write is one
 * HF loads and computes identically, token types included. See parity_cpu.h.
 */
#include "parity_cpu.h"

int main(void)
{
    return parity_cpu_run("parity_cpu_pair_clf", "pair_clf.bin.zst",
                          "attach-head --encoder \"$IFS_MODELS_DIR/all-MiniLM-L6-v2\" "
                          "--head \"$IFS_SOURCE_DIR/models/ifs-tone-minilm-l6-pair\"",
                          "all-MiniLM-L6-v2");
}
