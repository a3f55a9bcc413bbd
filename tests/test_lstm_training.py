"""Sequence classifiers trained for a few steps in dlcourse and in PyTorch, from the same float64 weights.

Embedding -> LSTM (or GRU) -> last layer's final hidden state -> Linear ->
CrossEntropyLoss, with gradient clipping between backward and the optimizer
step. After every step the loss, the gradient norm before clipping and,
at the end, every parameter must agree with PyTorch's.
"""
import numpy as np
import pytest
import torch
from conftest import copy_to_torch

from dlcourse import nn, optim

VOCAB, EMBED, HIDDEN, CLASSES, LAYERS = 11, 5, 6, 3, 2
N, T, STEPS, MAX_NORM = 6, 7, 5, 0.1


class SequenceClassifier(nn.Module):
    """logits = fc(h_n[-1]) with output, h_n = rnn(embedding(tokens)); tokens (N, T) integers."""

    def __init__(self, rnn_cls):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = rnn_cls(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.fc = nn.Linear(HIDDEN, CLASSES)
        self.is_lstm = rnn_cls is nn.LSTM

    def forward(self, tokens):
        _, final = self.rnn(self.embedding(tokens))                # the output sequence is not used
        self.h_n = final[0] if self.is_lstm else final              # (LAYERS, N, HIDDEN)
        return self.fc(self.h_n[-1])                                # the last layer's last hidden state

    def backward(self, grad_logits):
        grad_h_n = np.zeros_like(self.h_n)
        grad_h_n[-1] = self.fc.backward(grad_logits)                # only the last layer reaches the loss
        grad_state = (grad_h_n, None) if self.is_lstm else grad_h_n
        grad_embedded, _ = self.rnn.backward(None, grad_state)      # grad_output None: many-to-one
        return self.embedding.backward(grad_embedded)


class TorchSequenceClassifier(torch.nn.Module):
    def __init__(self, rnn_cls):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, EMBED)
        self.rnn = rnn_cls(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.fc = torch.nn.Linear(HIDDEN, CLASSES)
        self.is_lstm = rnn_cls is torch.nn.LSTM

    def forward(self, tokens):
        _, final = self.rnn(self.embedding(tokens))
        h_n = final[0] if self.is_lstm else final
        return self.fc(h_n[-1])


OPTIMIZERS = {
    "SGD-momentum": (lambda p: optim.SGD(p, lr=0.5, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9)),
    "Adam": (lambda p: optim.Adam(p, lr=0.05), lambda p: torch.optim.Adam(p, lr=0.05)),
}
RNNS = {"LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("rnn", RNNS)
def test_a_few_training_steps_match_torch(rnn, optimizer, rng):
    ours_rnn, theirs_rnn = RNNS[rnn]
    model = SequenceClassifier(ours_rnn).to(np.float64)
    twin = copy_to_torch(model, TorchSequenceClassifier(theirs_rnn).double())
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    make_ours, make_theirs = OPTIMIZERS[optimizer]
    opt, opt_t = make_ours(model.parameters()), make_theirs(twin.parameters())
    criterion, criterion_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    tokens = rng.integers(0, VOCAB, size=(N, T))
    labels = rng.integers(0, CLASSES, size=N)

    norms, losses = [], []
    for step in range(STEPS):
        opt.zero_grad()
        loss = criterion(model(tokens), labels)
        model.backward(criterion.backward())
        norm = nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        opt.step()

        opt_t.zero_grad()
        loss_t = criterion_t(twin(torch.from_numpy(tokens)), torch.from_numpy(labels))
        loss_t.backward()
        norm_t = torch.nn.utils.clip_grad_norm_(twin.parameters(), MAX_NORM)
        opt_t.step()

        assert loss == pytest.approx(loss_t.item(), rel=1e-10), f"loss at step {step}"
        assert norm == pytest.approx(norm_t.item(), rel=1e-10), f"gradient norm at step {step}"
        norms.append(norm)
        losses.append(loss)

    assert max(norms) > MAX_NORM                                   # clipping really acted
    torch_params = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.data, torch_params[name].detach().numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)
    assert losses[-1] < losses[0]                                  # and it learns
