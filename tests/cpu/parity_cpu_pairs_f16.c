/*
 * parity_cpu_pairs_f16.c - (c) gelu_new, 3 labels, F16-stored weights
 * (converted to fp32 on load), (instruction, response) pairs with token type
 * ids, against HF transformers. See parity_cpu.h.
 */
#include "parity_cpu.h"

int main(void)
{
    return parity_cpu_run(
        "parity_cpu_pairs_f16", "gelu_new_pairs_f16.bin.zst",
        "gen-model --seed 11 --hidden 256 --layers 4 --heads 8 --intermediate 1024 "
        "--labels 3 --act gelu_new --dtype f16 --init test",
        NULL);
}
