"""Train the tutorial model, export it to ONNX, and run it in onnxruntime.

Needs the ONNX extras: pip install 'torchkeras-lite[onnx]' (onnx and onnxruntime).
Prints predict()'s probabilities and onnxruntime's side by side, and the largest difference.
"""
import os
import tempfile

import numpy as np
import onnxruntime as ort

from torchkeras_lite.layers import Dense
from torchkeras_lite.models import Sequential
from torchkeras_lite.utils import to_categorical


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 8)).astype("float32")
    scores = X @ np.random.default_rng(42).normal(size=(8, 3))
    return X, to_categorical(scores.argmax(axis=1), num_classes=3)


X, Y = make_data(100, seed=0)
X_new, _ = make_data(5, seed=1)

model = Sequential()
model.add(Dense(12, input_dim=8, activation='relu'))
model.add(Dense(8, activation='relu'))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(X, Y, epochs=150, batch_size=10, verbose=0)

path = os.path.join(tempfile.mkdtemp(), "tutorial.onnx")
model.export(path, format="onnx", verify=True)  # verify: onnxruntime == predict, batch 1 and 37

session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
print(f"ONNX input {input_name!r} {session.get_inputs()[0].shape}, "
      f"output {session.get_outputs()[0].name!r} {session.get_outputs()[0].shape}")
ours = model.predict(X_new, verbose=0)
onnx_out = session.run(None, {input_name: X_new})[0]
print(f"{'predict':>30} | {'onnxruntime':>30}")
for a, b in zip(ours, onnx_out):
    print(f"{np.array2string(a, precision=5):>30} | {np.array2string(b, precision=5):>30}")
print(f"max abs difference: {np.abs(ours - onnx_out).max():.2e}")
