"""The Keras tutorial MLP, trained data-parallel when launched with torchrun.

    python examples/ddp_train.py                         # one process
    torchrun --nproc_per_node=2 examples/ddp_train.py    # two processes (CPU: gloo, GPUs: NCCL)

The training code is the tutorial's: under torchrun, fit/evaluate/predict notice the launch and
run data-parallel by themselves (torchkeras_lite.distribution). batch_size=10 is the global batch:
with two processes each takes 5 samples of every batch, and the result is the one-process result
(up to float rounding). Only rank 0 prints the progress lines; evaluate returns the same numbers
on every rank.
"""
import numpy as np

from torchkeras_lite import distribution
from torchkeras_lite.layers import Dense
from torchkeras_lite.models import Sequential
from torchkeras_lite.utils import set_random_seed, to_categorical


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 8)).astype("float32")
    scores = X @ np.random.default_rng(42).normal(size=(8, 3))
    return X, to_categorical(scores.argmax(axis=1), num_classes=3)


# The same seed on every rank: the same initial weights (DDP also copies rank 0's), and rank 0
# shuffles as a one-process run with this seed does.
set_random_seed(0)
X, Y = make_data(100, seed=0)
X_val, Y_val = make_data(50, seed=1)

model = Sequential()
model.add(Dense(12, input_dim=8, activation='relu'))
model.add(Dense(8, activation='relu'))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(X, Y, epochs=150, batch_size=10, verbose=2)

loss, accuracy = model.evaluate(X_val, Y_val, verbose=0)
if distribution.is_main_process():
    print(f"Processes: {distribution.world_size()}. "
          f"Validation loss: {loss:.4f}, validation accuracy: {accuracy * 100:.2f}%")
