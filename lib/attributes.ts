// Envoy's stream attributes by their CEL names (the table is generated from native/binding.spec.json, its ids
// checked against envoy_abi.h at compile time). Map-valued attributes (headers, metadata) are left out: use the
// header maps and ctx.metadata.

import { ATTRIBUTES } from './generated/attributes';
import type { AttributeType } from './generated/enums';

export { ATTRIBUTES };

export type AttributeName = keyof typeof ATTRIBUTES;
type KindOf<N extends AttributeName> = (typeof ATTRIBUTES)[N][1];
/** string for text attributes, number for counts, sizes, ports and codes, boolean for flags. */
export type AttributeValue<N extends AttributeName> =
  KindOf<N> extends AttributeType.Integer ? number : KindOf<N> extends AttributeType.Boolean ? boolean : string;
