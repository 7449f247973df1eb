# server/rpc/ services: the handlers of evbridge.v1 and grpc.health.v1 over the runtime.
# Included by server/rpc/CMakeLists.txt (the runtime's build file).
evb_module(evb_rpc_services
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_util.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_register.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_health.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_admin.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_connector.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_events.c
  ${CMAKE_CURRENT_SOURCE_DIR}/put_job.c
  ${CMAKE_CURRENT_SOURCE_DIR}/conn_cache.c
  ${CMAKE_CURRENT_SOURCE_DIR}/pb_wire.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_events_read.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_registry.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_actions.c
  ${CMAKE_CURRENT_SOURCE_DIR}/action_codec.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_connections.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_trace.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_deadletters.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_replay.c
  ${CMAKE_CURRENT_SOURCE_DIR}/svc_subscribe.c
  ${CMAKE_CURRENT_SOURCE_DIR}/connection_codec.c
  ${CMAKE_CURRENT_SOURCE_DIR}/ce_pb.c)
target_include_directories(evb_rpc_services PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(evb_rpc_services PUBLIC evb_rpc_runtime evb_proto evb_auth evb_ingest evb_schemas evb_router evb_routing
  evb_store evb_cloudevents evb_common evb_delivery)
