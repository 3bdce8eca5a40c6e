"""A text classifier with Embedding + LSTM, on synthetic token sequences.

Keras original imports:
    from keras.models import Sequential
    from keras.layers import Embedding, LSTM, Dense
Sequences are padded with 0 and the Embedding masks the padding (mask_zero=True). The label
says whether token 7 ("good") appears more often than token 9 ("bad"): learnable from order-free
counts, but the LSTM has to find it.
"""
import numpy as np

from torchkeras_lite.models import Sequential
from torchkeras_lite.layers import Embedding, LSTM, Dense

rng = np.random.default_rng(0)
vocab_size, max_len, n = 50, 20, 1200
lengths = rng.integers(5, max_len + 1, n)
x = np.zeros((n, max_len), dtype="int64")
for i, length in enumerate(lengths):
    x[i, max_len - length:] = rng.integers(1, vocab_size, length)   # left padding, as pad_sequences
y = ((x == 7).sum(axis=1) > (x == 9).sum(axis=1)).astype("float32")

model = Sequential()
model.add(Embedding(vocab_size, 16, mask_zero=True))
model.add(LSTM(32))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x[:1000], y[:1000], batch_size=32, epochs=8, validation_split=0.1, verbose=2)
loss, accuracy = model.evaluate(x[1000:], y[1000:], verbose=0)
print(f"Test loss: {loss:.4f}, test accuracy: {accuracy * 100:.2f}%")
