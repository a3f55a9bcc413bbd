"""Time one training step of chapter 06's character language model in dlcourse and in PyTorch; then train it.

The model (``dlcourse.rnns.CharLM`` and its PyTorch twin, with the same
parameter names and the same initial weights): Embedding(V, 32) -> LSTM(32,
128) -> Linear(128, V) on Shakespeare (V = 65), batches of 32 streams of 50
characters, float32, on the CPU. One training step = zero_grad, forward
(the state of the previous chunk passed in), cross-entropy over the 1600
positions, backward (truncated: no gradient into the state), clipping to a
total norm of 1, one Adam step. Both frameworks use the same number of
threads (torch.set_num_threads, threadpoolctl for numpy's OpenBLAS) and are
timed in alternating blocks (benchmarks/timing.py); the script prints the
median step times and their ratio dlcourse / PyTorch (goal: at most 1.5x).

Then a longer run of the numpy model alone (``--train-steps``, default 3000,
about two minutes on an idle machine): the training loss, the validation
loss and perplexity every ``--val-every`` steps, and samples at several
temperatures at the end.

    .venv/bin/python benchmarks/char_lm.py                           # about 3 minutes
    .venv/bin/python benchmarks/char_lm.py --repeats 50 --train-steps 0
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
from timing import BUSY_WARNING, alternating_blocks, machine_was_busy, same_threads, versions

import dlcourse
from dlcourse import data, losses, nn, optim
from dlcourse import rnns as R

GOAL = 1.5
EMBEDDING, HIDDEN, SEQ_LEN, BATCH = 32, 128, 50, 32


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per framework first")
    parser.add_argument("--blocks", type=int, default=10, help="alternate the frameworks this many times")
    parser.add_argument("--threads", type=int, default=2, help="threads for both torch and numpy's BLAS")
    parser.add_argument("--train-steps", type=int, default=3000, help="steps of the numpy run (0: none)")
    parser.add_argument("--val-every", type=int, default=500, help="validation every this many steps")
    return parser.parse_args()


class TorchCharLM(torch.nn.Module):
    """R.CharLM in PyTorch; the parameter names are the same, so state dicts move over as they are."""

    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, EMBEDDING)
        self.rnn = torch.nn.LSTM(EMBEDDING, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, vocab_size)

    def forward(self, codes, state=None):
        output, state = self.rnn(self.embedding(codes), state)
        return self.head(output), state


def dlcourse_stepper(model, chunks):
    optimizer, loss_fn = optim.Adam(model.parameters(), lr=3e-3), losses.CrossEntropyLoss()
    params = model.parameters()
    inputs, targets = chunks
    counter = {"k": 0, "state": None}

    def step():
        k = counter["k"] % len(inputs)
        counter["k"] += 1
        optimizer.zero_grad()
        logits, counter["state"] = model(inputs[k], counter["state"])
        N, T, V = logits.shape
        loss = loss_fn(logits.reshape(N * T, V), targets[k].reshape(-1))
        model.backward(loss_fn.backward().reshape(N, T, V))
        nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss

    return step


def torch_stepper(model, chunks):
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=3e-3), torch.nn.CrossEntropyLoss()
    inputs, targets = (torch.from_numpy(a) for a in chunks)
    counter = {"k": 0, "state": None}

    def step():
        k = counter["k"] % len(inputs)
        counter["k"] += 1
        optimizer.zero_grad()
        logits, state = model(inputs[k], counter["state"])
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), targets[k].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        counter["state"] = tuple(s.detach() for s in state)
        return loss.item()

    return step


def time_steps(args, corpus, train_chunks):
    dlcourse.manual_seed(0)
    ours = R.CharLM(len(corpus.chars), EMBEDDING, HIDDEN)
    theirs = TorchCharLM(len(corpus.chars))
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    steps = {"dlcourse": dlcourse_stepper(ours, train_chunks), "PyTorch": torch_stepper(theirs, train_chunks)}
    first = [step() for step in steps.values()]                    # same weights, same chunk
    times = alternating_blocks(steps, args.repeats, args.warmup, args.blocks)
    medians = {name: statistics.median(samples) * 1e3 for name, samples in times.items()}
    for name, samples in times.items():
        ms = np.array(samples) * 1e3
        print(f"{'LM step ' + name:18} median {medians[name]:8.2f} ms   min {ms.min():8.2f} ms   "
              f"p90 {np.percentile(ms, 90):8.2f} ms")
    ratio = medians["dlcourse"] / medians["PyTorch"]
    print(f"LM training step ratio dlcourse / PyTorch (median): {ratio:.2f}x (goal: at most {GOAL}x); "
          f"first loss numpy {first[0]:.6f}, torch {first[1]:.6f}")
    if machine_was_busy(times):
        print(BUSY_WARNING)


def train(args, corpus, train_chunks, val_chunks):
    dlcourse.manual_seed(0)
    model = R.CharLM(len(corpus.chars), EMBEDDING, HIDDEN)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    start, state, done = time.perf_counter(), None, 0
    print(f"training the numpy model for {args.train_steps} steps ({BATCH} x {SEQ_LEN} characters each)")
    while done < args.train_steps:
        block = min(args.val_every, args.train_steps - done)
        history, state = R.train_lm(model, optimizer, *train_chunks, steps=block, start=done, state=state)
        done += block
        val = R.evaluate_lm(model, *val_chunks)
        print(f"step {done:6d}: training loss {history[-50:].mean():.3f}, validation loss {val:.3f}, "
              f"perplexity {R.perplexity(val):.2f}, {time.perf_counter() - start:.0f} s", flush=True)
    for temperature in (0.5, 0.8, 1.0):
        text = corpus.decode(R.generate(model, corpus.encode("ROMEO:\n"), 300, temperature, seed=0)[0])
        print(f"--- sample at temperature {temperature} ---\nROMEO:\n{text}\n")


def main():
    args = parse_args()
    corpus = data.load_text("tinyshakespeare")
    split = int(0.9 * len(corpus.codes))
    train_chunks = R.lm_batches(corpus.codes[:split], SEQ_LEN, BATCH)
    val_chunks = R.lm_batches(corpus.codes[split:], SEQ_LEN, BATCH)
    print(f"char LM: Embedding({len(corpus.chars)}, {EMBEDDING}) -> LSTM({EMBEDDING}, {HIDDEN}) -> "
          f"Linear({HIDDEN}, {len(corpus.chars)}); batches {BATCH} x {SEQ_LEN}; float32; "
          f"{args.threads} threads (cpu_count {os.cpu_count()}); {versions()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    with same_threads(args.threads):
        time_steps(args, corpus, train_chunks)
        if args.train_steps:
            train(args, corpus, train_chunks, val_chunks)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
