// The vocabulary of the GGUF container: ggml tensor types with their block layouts, metadata value types,
// and the format's fixed limits. Shared by the GGUF header parser and the GGUF writer.
//
// Tensor type ids come from `enum ggml_type` (ggml/include/ggml.h); block sizes and block byte sizes from
// ggml's `type_traits` table (ggml/src/ggml.c), whose `type_size` is the size of the block structs in
// ggml/src/ggml-common.h; checked against gguf-py's GGML_QUANT_SIZES (gguf-py/gguf/constants.py).

export interface GgmlType {
  /** The id stored in a GGUF tensor info. */
  readonly id: number;
  /** ggml's enum name without the prefix: `F32`, `Q4_K`, `IQ2_XXS`. */
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const QK_K = 256;

const type = (id: number, name: string, blockSize: number, typeSize: number): GgmlType => ({
  id,
  name,
  blockSize,
  typeSize,
});

const GGML_TYPES: readonly GgmlType[] = [
  type(0, "F32", 1, 4),
  type(1, "F16", 1, 2),
  type(2, "Q4_0", 32, 2 + 16),
  type(3, "Q4_1", 32, 2 + 2 + 16),
  type(6, "Q5_0", 32, 2 + 4 + 16),
  type(7, "Q5_1", 32, 2 + 2 + 4 + 16),
  type(8, "Q8_0", 32, 2 + 32),
  type(9, "Q8_1", 32, 2 + 2 + 32),
  type(10, "Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
  type(11, "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
  type(12, "Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12),
  type(13, "Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
  type(14, "Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16),
  type(15, "Q8_K", QK_K, 4 + QK_K + (QK_K / 16) * 2),
  type(16, "IQ2_XXS", QK_K, 2 + (QK_K / 8) * 2),
  type(17, "IQ2_XS", QK_K, 2 + (QK_K / 8) * 2 + QK_K / 32),
  type(18, "IQ3_XXS", QK_K, 2 + 3 * (QK_K / 8)),
  type(19, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16),
  type(20, "IQ4_NL", 32, 2 + 16),
  type(21, "IQ3_S", QK_K, 2 + 13 * (QK_K / 32) + QK_K / 64),
  type(22, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16),
  type(23, "IQ4_XS", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2),
  type(24, "I8", 1, 1),
  type(25, "I16", 1, 2),
  type(26, "I32", 1, 4),
  type(27, "I64", 1, 8),
  type(28, "F64", 1, 8),
  type(29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
  type(30, "BF16", 1, 2),
  type(34, "TQ1_0", QK_K, 2 + QK_K / 64 + (QK_K - (4 * QK_K) / 64) / 5),
  type(35, "TQ2_0", QK_K, 2 + QK_K / 4),
  type(39, "MXFP4", 32, 1 + 16),
  type(40, "NVFP4", 64, 4 + 32),
  type(41, "Q1_0", 128, 2 + 128 / 8),
  type(42, "Q2_0", 64, 2 + 64 / 4),
];

export const GGML_TYPE_BY_ID: ReadonlyMap<number, GgmlType> = new Map(GGML_TYPES.map((t) => [t.id, t]));
export const GGML_TYPE_BY_NAME: ReadonlyMap<string, GgmlType> = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** Ids ggml once used and has since removed; files carrying them no longer load. */
export const REMOVED_GGML_TYPES: ReadonlyMap<number, string> = new Map([
  [4, "Q4_2"],
  [5, "Q4_3"],
  [31, "Q4_0_4_4"],
  [32, "Q4_0_4_8"],
  [33, "Q4_0_8_8"],
  [36, "IQ4_NL_4_4"],
  [37, "IQ4_NL_4_8"],
  [38, "IQ4_NL_8_8"],
]);

/** Metadata value types, indexed by their id on the wire (`enum gguf_metadata_value_type`). */
export const GGUF_VALUE_TYPES = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
] as const;

export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];

/** Bytes of each fixed-size value type; strings and arrays carry their own length. */
export const GGUF_FIXED_VALUE_SIZES: Readonly<Partial<Record<GgufValueTypeName, number>>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** "GGUF" at the byte level. */
export const GGUF_MAGIC = "GGUF";
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml tensors have at most four dimensions (GGML_MAX_DIMS). */
export const GGML_MAX_DIMS = 4;
/** ggml keeps tensor names in a 64-byte buffer with a terminating zero (GGML_MAX_NAME). */
export const GGML_MAX_NAME = 64;

export function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}
