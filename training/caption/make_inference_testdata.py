"""Writes inference/testdata/tiny.onnx, the model the inference package's tests run.

Run once from the repository root: training/.venv/bin/python training/caption/make_inference_testdata.py
The model has a dynamic batch: inputs x float32 [batch, 4] and k int64 [batch];
outputs y = x * 2 + 1 (float32 [batch, 4]) and s = sum(x, axis=1) + k (float32 [batch]).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
k = helper.make_tensor_value_info("k", TensorProto.INT64, ["batch"])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["batch"])
two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
nodes = [
    helper.make_node("Mul", ["x", "two"], ["x2"]),
    helper.make_node("Add", ["x2", "one"], ["y"]),
    helper.make_node("ReduceSum", ["x", "axes"], ["rs"], keepdims=0),
    helper.make_node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
    helper.make_node("Add", ["rs", "kf"], ["s"]),
]
graph = helper.make_graph(nodes, "tiny", [x, k], [y, s], initializer=[two, one, axes])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mvwatch")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "inference/testdata/tiny.onnx")
print("wrote inference/testdata/tiny.onnx")
