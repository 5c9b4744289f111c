"""One helper that runs the standard checks every layer must pass.

Modelled on keras-hub's `run_layer_test` and `run_precision_test`: config and
JSON round trip, build, symbolic call, eager call, output shape and dtype, one
`fit` step that changes the weights, and the same layer under the
`mixed_float16` and `mixed_bfloat16` policies. Backend-neutral: the layer
tests also run under `KERAS_BACKEND=jax`.
"""

import json

import keras
import numpy as np


def _as_inputs(input_data):
    return input_data if isinstance(input_data, dict) else {None: input_data}


def _call(layer, inputs, call_kwargs):
    if None in inputs:
        return layer(inputs[None], **call_kwargs)
    return layer(**inputs, **call_kwargs)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    expected_output_dtype="float32",
    call_kwargs=None,
    run_training_step=True,
    run_precision_checks=True,
):
    """Run the standard layer checks.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        input_data: a numpy array, or a dict of call-argument name -> array
            for layers with several tensor inputs; `{None: {"a": array, ...}}` passes
            one dict of arrays as the single input (a functional model's dict inputs).
        expected_output_shape: the eager output's shape.
        expected_output_dtype: the output's dtype.
        call_kwargs: extra non-tensor call arguments.
        run_training_step: run one SGD step and check every trainable weight moved.
        run_precision_checks: also run `run_precision_test`.
    """
    call_kwargs = call_kwargs or {}
    inputs = _as_inputs(input_data)

    # Config: constructor args come back unchanged, through a JSON round trip too.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for name, value in init_kwargs.items():
        assert config[name] == value, f"get_config()[{name!r}]={config[name]!r} != {value!r}"
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # Eager call: builds the layer and gives the expected shape and dtype.
    outputs = _call(layer, inputs, call_kwargs)
    assert layer.built
    assert tuple(outputs.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(outputs.dtype) == expected_output_dtype
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))

    # A revived layer, built the same way, computes the same function given the same weights.
    _call(revived, inputs, call_kwargs)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(_call(revived, inputs, call_kwargs)),
        keras.ops.convert_to_numpy(outputs),
        atol=1e-6,
    )

    # Symbolic call with unknown batch size inside a functional model.
    symbolic = {
        name: keras.tree.map_structure(lambda a: keras.Input(shape=a.shape[1:], dtype=str(a.dtype)), array)
        for name, array in inputs.items()
    }
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_outputs = _call(symbolic_layer, symbolic, call_kwargs)
    assert tuple(symbolic_outputs.shape[1:]) == tuple(expected_output_shape[1:])
    model = keras.Model(list(symbolic.values()), symbolic_outputs)

    if run_training_step:
        before = [np.copy(w) for w in model.get_weights()]
        trainable = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        assert trainable, "the layer has no trainable weights"
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        x = [inputs[name] for name in inputs]
        target = np.random.default_rng(0).normal(size=expected_output_shape).astype("float32")
        model.fit(x, target, batch_size=len(target), epochs=1, verbose=0)
        after = model.get_weights()
        moved = [not np.allclose(a, b) for a, b in zip(before, after)]
        assert any(moved), "one fit step changed no weight"
    if run_precision_checks:
        run_precision_test(layer_cls, init_kwargs, input_data, call_kwargs)
    return layer


MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def run_precision_test(layer_cls, init_kwargs, input_data, call_kwargs=None):
    """The layer under each mixed policy: float32 variables, outputs in the compute dtype, finite."""
    inputs = _as_inputs(input_data)
    for policy in MIXED_POLICIES:
        layer = layer_cls(**init_kwargs, dtype=policy)
        outputs = _call(layer, inputs, call_kwargs or {})
        compute_dtype = keras.DTypePolicy(policy).compute_dtype
        for variable in layer.weights:
            assert variable.dtype == "float32", f"{policy}: {variable.path} is {variable.dtype}"
        for output in keras.tree.flatten(outputs):
            assert keras.backend.standardize_dtype(output.dtype) == compute_dtype, (
                f"{policy}: an output is {output.dtype}, expected {compute_dtype}"
            )
            values = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
            assert np.all(np.isfinite(values)), f"{policy}: non-finite outputs"
