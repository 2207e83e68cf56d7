// The element types a safetensors file may declare, and the width of one element of each, as defined by
// huggingface/safetensors (`Dtype` and `Dtype::bitsize` in safetensors/src/tensor.rs). Widths are in bits
// because some types (F4, F6_*) are narrower than a byte: a tensor of them is valid only when its total
// width is a whole number of bytes.

const SAFETENSORS_DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

/** Every dtype name safetensors defines, for messages that list what is accepted. */
export const SAFETENSORS_DTYPES: readonly string[] = Object.keys(SAFETENSORS_DTYPE_BITS);

/** Bits per element of a safetensors dtype, or undefined for a name safetensors does not define. */
export function safetensorsDtypeBits(dtype: string): number | undefined {
  return Object.hasOwn(SAFETENSORS_DTYPE_BITS, dtype) ? SAFETENSORS_DTYPE_BITS[dtype] : undefined;
}
