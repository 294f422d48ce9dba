"""The suite's gRPC API for python3-grpcio clients, read from the descriptor set the build makes
(build/proto/crm_api.pb) rather than from generated code: messages by full name and unary methods by
"package.Service/Method".

    api = GrpcApi(os.path.join(BUILD, "proto/crm_api.pb"))
    copy, CopyDealRequest = api.method(channel, "crm.deals.v1.DealService/CopyDeal")
    deal = copy(CopyDealRequest(id=source_id), metadata=stack.signed(principal), timeout=10)
"""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


class GrpcApi:
    def __init__(self, descriptor_set_path):
        with open(descriptor_set_path, "rb") as f:
            files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        self.pool = descriptor_pool.DescriptorPool()
        for proto in files.file:  # dependencies come first (protoc --include_imports)
            self.pool.Add(proto)
        self.factory = message_factory.MessageFactory(self.pool)

    def message(self, full_name):
        """The message class of e.g. "crm.common.v1.Principal"."""
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))

    def method(self, channel, full_method):
        """(callable, request class) of a unary method "crm.deals.v1.DealService/CopyDeal"."""
        service, name = full_method.split("/")
        desc = self.pool.FindServiceByName(service).FindMethodByName(name)
        request = self.message(desc.input_type.full_name)
        response = self.message(desc.output_type.full_name)
        call = channel.unary_unary("/" + full_method, request_serializer=request.SerializeToString,
                                   response_deserializer=response.FromString)
        return call, request
