"""Training on more hardware: `tf.distribute` strategies, precision, and who writes the run.

The package trains with the engine TensorFlow already has, `tf.distribute`, and keeps
`model.fit`; this module holds the few things a run needs around it:

- `make_strategy(name, cpu_devices)`: "auto" (MirroredStrategy when more than one GPU is
  visible, else the default), "one-device", "mirrored" (every local GPU, or every logical CPU
  device) or "multi-worker" (MultiWorkerMirroredStrategy, one process per host, `TF_CONFIG`).
  `cpu_devices=N` splits the host CPU into N logical devices first, so that replicas can be
  tried, and tested, on any machine.
- `global_sum(x)`: a sum over all replicas of the global batch, for losses that must be
  divided by a count of the whole batch (the translator's number of real target tokens).
- `AdamW`, `Adam`, `RMSprop`: Keras's, except that gradient clipping sees the gradients
  summed over the replicas (Keras clips each replica's share before summing them).
- `precision_scope(precision)`: build a model under a dtype policy ("float32",
  "mixed_bfloat16", "mixed_float16") without changing the global policy for good.
- `is_chief(strategy)`: only the chief worker writes the run directory.

The batch size of a config is always the *global* batch: each of N replicas gets 1/N of it
(`tf.distribute` splits each batch). With more than one replica the training batches all have
that size (the last, partial batch of an epoch is dropped: `replica_batches`), so that the
split is exact. With the default strategy (one device) all of this is what training does anyway.
"""

import contextlib

import keras

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


# ------------------------------------------------------------------------------ strategies
def configure_cpu_devices(count):
    """Split the host CPU into `count` logical devices (before TensorFlow starts its runtime).

    Raises:
        RuntimeError: when TensorFlow has already initialised its devices in this process.
    """
    import tensorflow as tf

    count = int(count)
    if count < 1:
        raise ValueError(f"cpu_devices={count} must be at least 1.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration()] * count
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have == count:
            return
        raise RuntimeError(
            f"cpu_devices={count}: TensorFlow already started with {have} CPU device(s) in this "
            "process; split the CPU before anything else uses TensorFlow (a fresh process, or "
            "`kdl_transformer.distribute.configure_cpu_devices` first thing)."
        ) from None


def make_strategy(name="auto", cpu_devices=None):
    """The `tf.distribute.Strategy` called `name` (one of `STRATEGIES`), or `name` itself.

    Args:
        name: "auto", "one-device", "mirrored", "multi-worker", or a Strategy object.
        cpu_devices: int, split the host CPU into this many logical devices first (then
            "mirrored" puts one replica on each).

    Returns:
        the strategy; create it before any other TensorFlow work of the process
        ("multi-worker" must be, as TensorFlow requires).
    """
    import tensorflow as tf

    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r} is not one of {STRATEGIES}.")
    if cpu_devices:
        configure_cpu_devices(cpu_devices)
    if name == "multi-worker":
        return _multi_worker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if len(gpus) > 1:  # auto
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _multi_worker_strategy():
    """MultiWorkerMirroredStrategy whose `reduce` takes what Keras's `fit` gives it.

    `fit` (Keras 3.15) reduces one nested batch, to build the model symbolically, and each
    scalar step log with `axis=0`. MultiWorkerMirroredStrategy accepts neither (it tries to
    turn the tuple into one tensor, and to sum a scalar over its axis 0), so this one reduces
    each value of a structure, and reduces scalars over the replicas alone.
    """
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if isinstance(value, (tuple, list)):
                return type(value)(self.reduce(reduce_op, v, axis) for v in value)
            if isinstance(value, dict):
                return {key: self.reduce(reduce_op, v, axis) for key, v in value.items()}
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None  # Keras asks for axis 0 of its scalar step logs
            return super().reduce(reduce_op, value, axis)

    return MultiWorkerMirroredStrategy()


def is_chief(strategy=None):
    """Whether this process writes the run directory: always, except on non-chief workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def task_id(strategy=None):
    """This worker's "type-index" in the cluster (e.g. "worker-1"), or "local"."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "local"
    return f"{resolver.task_type}-{resolver.task_id}"


def worker_count(strategy=None):
    """The number of worker processes training together (1 off a multi-worker cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    spec = resolver.cluster_spec().as_dict() or {}
    return sum(len(spec.get(job, [])) for job in ("chief", "worker"))


def barrier(strategy):
    """Wait until every worker of `strategy` gets here (a collective sum of ones)."""
    import tensorflow as tf

    ones = strategy.run(lambda: tf.constant(1.0))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None))


def replica_batches(strategy=None):
    """Whether training batches must all be full: with more than one replica.

    `tf.distribute` splits a global batch exactly over the replicas only when the batch size is
    static; a dataset with a partial last batch has none, and would be re-batched otherwise.
    """
    return getattr(strategy, "num_replicas_in_sync", 1) > 1


def strategy_scope(strategy):
    """`strategy.scope()`, or nothing to enter when `strategy` is None."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


# ------------------------------------------------------------------------------ reductions
def _replica_context():
    """The replica context when more than one replica trains, else None (also off TF)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def global_sum(value):
    """`value` summed over the replicas of the global batch (itself on one device).

    Call it in a replica's step (a loss, a metric): every replica gets the same total.
    """
    context = _replica_context()
    if context is None:
        return value
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


class ReplicaSumMixin:
    """Sum the gradients over the replicas first, then clip them (and apply them).

    Keras clips the gradients of each replica before summing them across replicas, so with
    `clipnorm` and N replicas each replica's partial gradient would be clipped, and training
    would depend on N. On one device: the Keras optimizer as is.
    """

    def _clip_gradients(self, grads):
        context = _replica_context()
        if context is not None:
            import tensorflow as tf

            present = [g for g in grads if g is not None]
            summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present) if present else [])
            grads = [None if g is None else next(summed) for g in grads]
        return super()._clip_gradients(grads)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        if _replica_context() is not None:
            return list(grads_and_vars)  # summed already, before clipping
        return super()._all_reduce_sum_gradients(grads_and_vars)


@keras.saving.register_keras_serializable(package="kdl_transformer")
class AdamW(ReplicaSumMixin, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW`, clipping the gradients summed over replicas (`ReplicaSumMixin`)."""


@keras.saving.register_keras_serializable(package="kdl_transformer")
class Adam(ReplicaSumMixin, keras.optimizers.Adam):
    """`keras.optimizers.Adam`, clipping the gradients summed over replicas (`ReplicaSumMixin`)."""


@keras.saving.register_keras_serializable(package="kdl_transformer")
class RMSprop(ReplicaSumMixin, keras.optimizers.RMSprop):
    """`keras.optimizers.RMSprop`, clipping the gradients summed over replicas."""


# ------------------------------------------------------------------------------ precision
def check_precision(precision):
    """Raise a ValueError unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}.")


@contextlib.contextmanager
def precision_scope(precision):
    """Layers created inside use the dtype policy `precision`; the global one is restored after.

    Variables stay float32 under the mixed policies; each layer saves its policy in the
    `.keras` file, so a reloaded model computes as it was trained. With "mixed_float16",
    `model.compile` wraps the optimizer in Keras's `LossScaleOptimizer` (dynamic loss scaling).
    """
    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
