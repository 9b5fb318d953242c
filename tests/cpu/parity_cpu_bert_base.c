/*
 * parity_cpu_bert_base.c - (b) a seeded random BERT-base-shaped model (12
 * layers, hidden 768, 2 labels, gelu, random biases and LayerNorms) against
 * HF transformers on real responses. See parity_cpu.h.
 */
#include "parity_cpu.h"

int main(void)
{
    return parity_cpu_run("parity_cpu_bert_base", "bert_base_random.bin.zst",
                          "gen-model --seed 7 --shape base --init test", NULL);
}
