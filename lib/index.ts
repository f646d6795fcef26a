export { defineFilter } from './filter';
export type { FilterContext, FilterDefinition, FilterRequest, FilterResponse, FilterSpec, HandlerResult, Logger, Reply } from './filter';
export { HeaderMap } from './headers';
export { NodevoyError, StreamClosedError, InvalidHeaderError, InvalidResponseError } from './errors';
