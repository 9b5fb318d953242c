/*
 * ifs_decide.h - the one decision rule of ifscore: when a response counts as
 * answer-like.
 *
 *     answer-like  <=>  p_answer > threshold
 *
 * p_answer is the softmax probability of the checkpoint's answer-like label
 * and threshold is in (0, 1) (score --threshold, default 0.5). A probability
 * exactly at the threshold is continuation-like: with two labels and the
 * default threshold, equal logits are not an answer. The reducer (IFS, the
 * scores file's "answer_like") and train-head (accuracy, precision, recall,
 * the epoch kept) both decide through this function, so a trained head's
 * reported metrics are the ones `score` reproduces. Header-only, no state.
 */
#ifndef IFS_DECIDE_H
#define IFS_DECIDE_H

#define IFS_DECIDE_DEFAULT_THRESHOLD 0.5

static inline int ifs_decide_answer(double p_answer, double threshold)
{
    return p_answer > threshold;
}

#endif /* IFS_DECIDE_H */
