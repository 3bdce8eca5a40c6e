"""The Keras tutorial MLP, with only the imports changed.

Keras original:
    from keras.models import Sequential
    from keras.layers import Dense
    from keras.utils import to_categorical

100 samples of 8 float32 features, 3 classes one-hot encoded; Dense 12 → 8 → 3, adam,
categorical_crossentropy, accuracy, 150 epochs of batch 10, evaluated on held-out data.
The data is made here: the class is the largest of three fixed linear scores of the features,
so the network has something real to learn.
"""
import numpy as np

from torchkeras_lite.models import Sequential
from torchkeras_lite.layers import Dense
from torchkeras_lite.utils import to_categorical


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 8)).astype("float32")
    scores = X @ np.random.default_rng(42).normal(size=(8, 3))
    return X, to_categorical(scores.argmax(axis=1), num_classes=3)


X, Y = make_data(100, seed=0)
X_val, Y_val = make_data(50, seed=1)

model = Sequential()
model.add(Dense(12, input_dim=8, activation='relu'))
model.add(Dense(8, activation='relu'))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(X, Y, epochs=150, batch_size=10)

loss, accuracy = model.evaluate(X_val, Y_val)
print(f"Validation loss: {loss:.4f}, validation accuracy: {accuracy * 100:.2f}%")
