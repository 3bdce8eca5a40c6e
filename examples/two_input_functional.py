"""A functional model with two inputs and two outputs.

Keras original imports:
    import keras
    from keras import layers
Inputs: a 10-feature "profile" and a 6-feature "activity" vector. Outputs: a regression target
(``score``) and a 3-class category (``segment``), trained together with per-output losses,
loss weights and metrics, with data given as dicts keyed by input and output names.
"""
import numpy as np

import torchkeras_lite as keras
from torchkeras_lite import layers

rng = np.random.default_rng(0)
n = 800
profile = rng.normal(size=(n, 10)).astype("float32")
activity = rng.normal(size=(n, 6)).astype("float32")
score = (profile[:, :3].sum(axis=1, keepdims=True) - activity[:, :2].sum(axis=1, keepdims=True))
segment = keras.utils.to_categorical(np.argmax(activity[:, :3] + profile[:, 3:6], axis=1), 3)

profile_in = keras.Input(shape=(10,), name="profile")
activity_in = keras.Input(shape=(6,), name="activity")
x = layers.Concatenate()([layers.Dense(16, activation="relu")(profile_in),
                          layers.Dense(16, activation="relu")(activity_in)])
x = layers.Dense(32, activation="relu")(x)
score_out = layers.Dense(1, name="score")(x)
segment_out = layers.Dense(3, activation="softmax", name="segment")(x)
model = keras.Model(inputs=[profile_in, activity_in], outputs=[score_out, segment_out])
model.summary()

model.compile(
    optimizer="adam",
    loss={"score": "mse", "segment": "categorical_crossentropy"},
    loss_weights={"score": 1.0, "segment": 0.5},
    metrics={"score": ["mae"], "segment": ["accuracy"]},
)
model.fit({"profile": profile[:700], "activity": activity[:700]},
          {"score": score[:700], "segment": segment[:700]},
          epochs=10, batch_size=32, verbose=2)
results = model.evaluate({"profile": profile[700:], "activity": activity[700:]},
                         {"score": score[700:], "segment": segment[700:]},
                         verbose=0, return_dict=True)
print({k: round(v, 4) for k, v in results.items()})
