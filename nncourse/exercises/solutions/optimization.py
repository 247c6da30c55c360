"""Answers to the exercises of notebook 04 (optimization)."""
import numpy as np
import torch
import torch.nn.functional as F


def momentum_step(p, g, velocity, lr, momentum):
    velocity = momentum * velocity + g  # PyTorch's convention: the velocity sums raw gradients
    return p - lr * velocity, velocity


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g        # running mean of the gradient
    v = beta2 * v + (1 - beta2) * g**2     # running mean of its square
    m_hat = m / (1 - beta1**t)             # bias correction: both start at 0
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def lr_range_test(model, batches, lr_min, lr_max):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr_min)
    n = len(batches)
    lrs, losses = [], []
    for i, (xb, yb) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (i / (n - 1))   # geometric: the same factor each batch
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lrs.append(lr)
        losses.append(loss.item())
    return np.array(lrs), np.array(losses)


def fixed_train(model, loader, epochs, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    epoch_losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()       # the fix: backward and step once per batch, inside the loop
            optimizer.step()
            total += loss.item() * len(xb)
        epoch_losses.append(total / len(loader.dataset))
    return epoch_losses
