export { defineFilter } from './filter';
export type {
  ChunkHandler,
  ChunkResult,
  FetchInit,
  FilterContext,
  FilterDefinition,
  FilterRequest,
  FilterResponse,
  FilterSpec,
  FilterState,
  Handler,
  HandlerResult,
  Logger,
  Metadata,
  MetadataSource,
  Reply,
  Schema,
} from './filter';
export { HeaderMap } from './headers';
export { Body } from './body';
export type { BodyChunk } from './body';
export type { AttributeName, AttributeValue } from './attributes';
export type {
  Counter,
  Gauge,
  Histogram,
  LabelArgs,
  Labels,
  Metric,
  MetricDeclaration,
  MetricDeclarations,
  MetricOf,
  MetricsOf,
  MetricType,
} from './metrics';
export {
  NodevoyError,
  StreamClosedError,
  InvalidHeaderError,
  InvalidResponseError,
  InvalidStateError,
  FetchError,
} from './errors';
