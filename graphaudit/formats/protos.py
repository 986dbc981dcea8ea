"""TensorFlow protobuf messages, without importing TensorFlow.

Most messages come from ``tensorboard.compat.proto``, which republishes TensorFlow's own
definitions under the ``tensorboard`` package. The few that it lacks (the SavedModel wrapper,
the tensor-bundle index entries, the SavedModel fingerprint and tf_keras' ``keras_metadata.pb``)
are declared here from their field numbers, into a private descriptor pool entry.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from graphaudit.model.dtypes import DTYPES, dtype_name  # noqa: F401  (re-exported for the readers)
from tensorboard.compat.proto import (  # noqa: F401  (re-exported)
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saved_object_graph_pb2,
    saver_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    trackable_object_graph_pb2,
    types_pb2,
    variable_pb2,
    versions_pb2,
)

GraphDef = graph_pb2.GraphDef
NodeDef = node_def_pb2.NodeDef
MetaGraphDef = meta_graph_pb2.MetaGraphDef
SignatureDef = meta_graph_pb2.SignatureDef
CollectionDef = meta_graph_pb2.CollectionDef
SaverDef = saver_pb2.SaverDef
VariableDef = variable_pb2.VariableDef
TensorProto = tensor_pb2.TensorProto
TensorShapeProto = tensor_shape_pb2.TensorShapeProto
SavedObjectGraph = saved_object_graph_pb2.SavedObjectGraph
TrackableObjectGraph = trackable_object_graph_pb2.TrackableObjectGraph

_F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, ftype: int, type_name: str = "", repeated: bool = False):
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = dict(name=name, number=number, type=ftype, label=label)
    if type_name:
        field["type_name"] = type_name
    return field


def _build() -> dict[str, type]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="graphaudit/declared.proto",
        package="graphaudit",
        syntax="proto3",
        dependency=[
            meta_graph_pb2.DESCRIPTOR.name,
            tensor_pb2.DESCRIPTOR.name,
            tensor_shape_pb2.DESCRIPTOR.name,
            types_pb2.DESCRIPTOR.name,
            versions_pb2.DESCRIPTOR.name,
        ],
    )
    messages = {
        # tensorflow/core/protobuf/saved_model.proto
        "SavedModel": [
            _field("saved_model_schema_version", 1, _F.TYPE_INT64),
            _field("meta_graphs", 2, _F.TYPE_MESSAGE, ".tensorboard.MetaGraphDef", repeated=True),
        ],
        # tensorflow/core/framework/tensor_slice.proto
        "TensorSliceExtent": [
            _field("start", 1, _F.TYPE_INT64),
            _field("length", 2, _F.TYPE_INT64),
        ],
        "TensorSliceProto": [
            _field("extent", 1, _F.TYPE_MESSAGE, ".graphaudit.TensorSliceExtent", repeated=True),
        ],
        # tensorflow/core/protobuf/tensor_bundle.proto
        "BundleHeaderProto": [
            _field("num_shards", 1, _F.TYPE_INT32),
            _field("endianness", 2, _F.TYPE_INT32),  # enum LITTLE=0, BIG=1
            _field("version", 3, _F.TYPE_MESSAGE, ".tensorboard.VersionDef"),
        ],
        "BundleEntryProto": [
            _field("dtype", 1, _F.TYPE_ENUM, ".tensorboard.DataType"),
            _field("shape", 2, _F.TYPE_MESSAGE, ".tensorboard.TensorShapeProto"),
            _field("shard_id", 3, _F.TYPE_INT32),
            _field("offset", 4, _F.TYPE_INT64),
            _field("size", 5, _F.TYPE_INT64),
            _field("crc32c", 6, _F.TYPE_FIXED32),
            _field("slices", 7, _F.TYPE_MESSAGE, ".graphaudit.TensorSliceProto", repeated=True),
        ],
        # tensorflow/core/util/saved_tensor_slice.proto (V1 checkpoints)
        "SavedSliceMeta": [
            _field("name", 1, _F.TYPE_STRING),
            _field("shape", 2, _F.TYPE_MESSAGE, ".tensorboard.TensorShapeProto"),
            _field("type", 3, _F.TYPE_ENUM, ".tensorboard.DataType"),
            _field("slice", 4, _F.TYPE_MESSAGE, ".graphaudit.TensorSliceProto", repeated=True),
        ],
        "SavedTensorSliceMeta": [
            _field("tensor", 1, _F.TYPE_MESSAGE, ".graphaudit.SavedSliceMeta", repeated=True),
            _field("versions", 2, _F.TYPE_MESSAGE, ".tensorboard.VersionDef"),
        ],
        "SavedSlice": [
            _field("name", 1, _F.TYPE_STRING),
            _field("slice", 2, _F.TYPE_MESSAGE, ".graphaudit.TensorSliceProto"),
            _field("data", 3, _F.TYPE_MESSAGE, ".tensorboard.TensorProto"),
        ],
        "SavedTensorSlices": [
            _field("meta", 1, _F.TYPE_MESSAGE, ".graphaudit.SavedTensorSliceMeta"),
            _field("data", 2, _F.TYPE_MESSAGE, ".graphaudit.SavedSlice"),
        ],
        # tensorflow/core/protobuf/fingerprint.proto
        "FingerprintDef": [
            _field("saved_model_checksum", 1, _F.TYPE_UINT64),
            _field("graph_def_program_hash", 2, _F.TYPE_UINT64),
            _field("signature_def_hash", 3, _F.TYPE_UINT64),
            _field("saved_object_graph_hash", 4, _F.TYPE_UINT64),
            _field("checkpoint_hash", 5, _F.TYPE_UINT64),
            _field("version", 6, _F.TYPE_MESSAGE, ".tensorboard.VersionDef"),
            _field("uuid", 7, _F.TYPE_STRING),
        ],
        # tf_keras/protobuf/saved_metadata.proto (keras_metadata.pb)
        "KerasSavedObject": [
            _field("node_id", 2, _F.TYPE_INT32),
            _field("node_path", 3, _F.TYPE_STRING),
            _field("identifier", 4, _F.TYPE_STRING),
            _field("metadata", 5, _F.TYPE_STRING),
        ],
        "KerasSavedMetadata": [
            _field("nodes", 1, _F.TYPE_MESSAGE, ".graphaudit.KerasSavedObject", repeated=True),
        ],
    }
    for name, fields in messages.items():
        msg = fdp.message_type.add(name=name)
        for f in fields:
            msg.field.add(**f)
    pool = descriptor_pool.Default()
    try:
        fd = pool.FindFileByName(fdp.name)
    except KeyError:
        pool.Add(fdp)
        fd = pool.FindFileByName(fdp.name)
    return {
        name: message_factory.GetMessageClass(fd.message_types_by_name[name]) for name in messages
    }


_classes = _build()
SavedModel = _classes["SavedModel"]
BundleHeaderProto = _classes["BundleHeaderProto"]
BundleEntryProto = _classes["BundleEntryProto"]
FingerprintDef = _classes["FingerprintDef"]
KerasSavedMetadata = _classes["KerasSavedMetadata"]
SavedTensorSlices = _classes["SavedTensorSlices"]


def shape_list(shape: TensorShapeProto) -> tuple[int, ...] | None:
    """Convert a TensorShapeProto to a tuple (-1 for unknown dims), or None if rank is unknown."""
    if shape.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape.dim)
