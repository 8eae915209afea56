package inference

import (
	"errors"
	"fmt"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// DType is a tensor element type as the session wrapper reports and accepts it.
type DType string

// Element types that Value carries.
const (
	DTypeFloat32 DType = "float32"
	DTypeInt64   DType = "int64"
	DTypeInt32   DType = "int32"
	DTypeUint8   DType = "uint8"
	DTypeBool    DType = "bool"
)

// ErrMissingTensor is wrapped by errors about a model that lacks a tensor a caller needs.
var ErrMissingTensor = errors.New("inference: missing tensor")

// TensorInfo is one model input or output as the model declares it.
type TensorInfo struct {
	// Name is the graph name of the tensor.
	Name string
	// DType is its element type; an element type this wrapper cannot carry is reported by name,
	// e.g. "ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16".
	DType DType
	// Shape has one entry per dimension; -1 marks a dynamic (symbolic) dimension.
	Shape []int64
}

// String formats the tensor as name:dtype[dims].
func (t TensorInfo) String() string {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			dims[i] = "?"
		} else {
			dims[i] = fmt.Sprint(d)
		}
	}
	return fmt.Sprintf("%s:%s[%s]", t.Name, t.DType, strings.Join(dims, ","))
}

// Value is one tensor argument of Session.Run: a shape and a Go slice in row-major order. ONNX
// Runtime reads inputs from the slice and writes outputs into it in place, so a caller that keeps
// its slices reuses the same memory on every run. Build one with Float32, Int64, Int32 or Uint8.
type Value struct {
	// Shape is the tensor shape; a zero dimension (an empty KV cache) is allowed.
	Shape []int64
	// Data is a []float32, []int64, []int32, []uint8 or []bool with at least as many elements as
	// Shape needs.
	Data any
}

// Float32 returns a float32 Value.
func Float32(shape []int64, data []float32) Value { return Value{Shape: shape, Data: data} }

// Int64 returns an int64 Value.
func Int64(shape []int64, data []int64) Value { return Value{Shape: shape, Data: data} }

// Int32 returns an int32 Value.
func Int32(shape []int64, data []int32) Value { return Value{Shape: shape, Data: data} }

// Uint8 returns a uint8 Value.
func Uint8(shape []int64, data []uint8) Value { return Value{Shape: shape, Data: data} }

// SessionConfig selects what one session binds.
type SessionConfig struct {
	// Inputs are the input names Run takes, in Run's order. It defaults to all model inputs in the
	// model's order.
	Inputs []string
	// Outputs are the output names Run fills, in Run's order. It defaults to all model outputs in
	// the model's order.
	Outputs []string
	// IntraOpThreads overrides the environment's intra-op thread count for this session when > 0.
	IntraOpThreads int
}

// Session is one loaded ONNX model. Run may be called from one goroutine at a time.
type Session struct {
	path    string
	inputs  []TensorInfo
	outputs []TensorInfo
	s       *ort.DynamicAdvancedSession
}

// OpenSession loads the model at path with the environment started by Init, reads its input and
// output names, element types and shapes, and binds the ones cfg selects.
func OpenSession(path string, cfg SessionConfig) (*Session, error) {
	opts, err := newSessionOptions(cfg.IntraOpThreads)
	if err != nil {
		return nil, err
	}
	defer destroy(opts)
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, fmt.Errorf("inference: read model %s: %w", path, err)
	}
	allIn := convertInfos(ins)
	allOut := convertInfos(outs)
	inputs, err := pick(allIn, cfg.Inputs, "input", path)
	if err != nil {
		return nil, err
	}
	outputs, err := pick(allOut, cfg.Outputs, "output", path)
	if err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSession(path, names(inputs), names(outputs), opts)
	if err != nil {
		return nil, fmt.Errorf("inference: load model %s: %w", path, err)
	}
	return &Session{path: path, inputs: inputs, outputs: outputs, s: s}, nil
}

// ModelInputs returns every input the model at path declares, without binding a session. Init must
// have succeeded.
func ModelInputs(path string) ([]TensorInfo, []TensorInfo, error) {
	opts, err := newSessionOptions(1)
	if err != nil {
		return nil, nil, err
	}
	defer destroy(opts)
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("inference: read model %s: %w", path, err)
	}
	return convertInfos(ins), convertInfos(outs), nil
}

// Path returns the model file the session loaded.
func (s *Session) Path() string { return s.path }

// Inputs returns the bound inputs in Run's order.
func (s *Session) Inputs() []TensorInfo { return append([]TensorInfo(nil), s.inputs...) }

// Outputs returns the bound outputs in Run's order.
func (s *Session) Outputs() []TensorInfo { return append([]TensorInfo(nil), s.outputs...) }

// Input returns the bound input with the given name.
func (s *Session) Input(name string) (TensorInfo, bool) { return find(s.inputs, name) }

// Output returns the bound output with the given name.
func (s *Session) Output(name string) (TensorInfo, bool) { return find(s.outputs, name) }

// Run runs the model once. inputs and outputs follow Inputs() and Outputs() order; every output
// must be preallocated with its exact shape. Element types, ranks and fixed dimensions are checked
// against the model first, so a mismatch is a clear error rather than a crash.
func (s *Session) Run(inputs, outputs []Value) error {
	if s.s == nil {
		return fmt.Errorf("inference: run %s: session closed", s.path)
	}
	if len(inputs) != len(s.inputs) {
		return fmt.Errorf("inference: run %s: got %d inputs, model binds %d (%v)", s.path, len(inputs),
			len(s.inputs), names(s.inputs))
	}
	if len(outputs) != len(s.outputs) {
		return fmt.Errorf("inference: run %s: got %d outputs, model binds %d (%v)", s.path, len(outputs),
			len(s.outputs), names(s.outputs))
	}
	vals := make([]ort.Value, 0, len(inputs)+len(outputs))
	defer func() {
		for _, v := range vals {
			destroy(v)
		}
	}()
	for i, in := range inputs {
		v, err := toOrt(s.inputs[i], in)
		if err != nil {
			return fmt.Errorf("inference: run %s: input %w", s.path, err)
		}
		vals = append(vals, v)
	}
	for i, out := range outputs {
		v, err := toOrt(s.outputs[i], out)
		if err != nil {
			return fmt.Errorf("inference: run %s: output %w", s.path, err)
		}
		vals = append(vals, v)
	}
	if err := s.s.Run(vals[:len(inputs)], vals[len(inputs):]); err != nil {
		return fmt.Errorf("inference: run %s: %w", s.path, err)
	}
	return nil
}

// Close frees the session. It is safe to call more than once.
func (s *Session) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	if err != nil {
		return fmt.Errorf("inference: close %s: %w", s.path, err)
	}
	return nil
}

// toOrt checks v against info and wraps its slice in an ONNX Runtime tensor without copying.
func toOrt(info TensorInfo, v Value) (ort.Value, error) {
	if len(v.Shape) != len(info.Shape) {
		return nil, fmt.Errorf("%s: rank %d, model wants %s", info.Name, len(v.Shape), info)
	}
	for i, d := range v.Shape {
		if d < 0 {
			return nil, fmt.Errorf("%s: negative dimension %d in %v", info.Name, d, v.Shape)
		}
		if info.Shape[i] >= 0 && info.Shape[i] != d {
			return nil, fmt.Errorf("%s: shape %v, model wants %s", info.Name, v.Shape, info)
		}
	}
	var dt DType
	var t ort.Value
	var err error
	shape := ort.NewShape(v.Shape...)
	switch data := v.Data.(type) {
	case []float32:
		dt = DTypeFloat32
		t, err = newTensor(shape, data)
	case []int64:
		dt = DTypeInt64
		t, err = newTensor(shape, data)
	case []int32:
		dt = DTypeInt32
		t, err = newTensor(shape, data)
	case []uint8:
		dt = DTypeUint8
		t, err = newTensor(shape, data)
	case []bool:
		dt = DTypeBool
		t, err = newTensor(shape, data)
	default:
		return nil, fmt.Errorf("%s: unsupported Go data %T", info.Name, v.Data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info.Name, err)
	}
	if dt != info.DType {
		destroy(t)
		return nil, fmt.Errorf("%s: element type %s, model wants %s", info.Name, dt, info)
	}
	return t, nil
}

// newTensor wraps data, reporting a short slice as an error.
func newTensor[T ort.TensorData](shape ort.Shape, data []T) (ort.Value, error) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	if int64(len(data)) < n {
		return nil, fmt.Errorf("shape %v needs %d elements, slice has %d", []int64(shape), n, len(data))
	}
	if len(shape) == 0 {
		// A rank-0 (scalar) tensor, e.g. a UNet timestep; NewTensor rejects an empty shape.
		return ort.NewScalar(data[0])
	}
	if n == 0 {
		// ONNX Runtime accepts an empty tensor without a data pointer; the Go wrapper needs a slice.
		data = make([]T, 1)
	}
	t, err := ort.NewTensor(shape, data)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func convertInfos(in []ort.InputOutputInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, x := range in {
		shape := make([]int64, len(x.Dimensions))
		copy(shape, x.Dimensions)
		out[i] = TensorInfo{Name: x.Name, DType: convertDType(x.DataType), Shape: shape}
	}
	return out
}

func convertDType(t ort.TensorElementDataType) DType {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return DTypeFloat32
	case ort.TensorElementDataTypeInt64:
		return DTypeInt64
	case ort.TensorElementDataTypeInt32:
		return DTypeInt32
	case ort.TensorElementDataTypeUint8:
		return DTypeUint8
	case ort.TensorElementDataTypeBool:
		return DTypeBool
	}
	return DType(t.String())
}

func pick(all []TensorInfo, want []string, kind, path string) ([]TensorInfo, error) {
	if len(want) == 0 {
		return all, nil
	}
	out := make([]TensorInfo, 0, len(want))
	var missing []string
	for _, n := range want {
		info, ok := find(all, n)
		if !ok {
			missing = append(missing, n)
			continue
		}
		out = append(out, info)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: model %s lacks %s tensor(s) %s (has %s)", ErrMissingTensor, path, kind,
			strings.Join(missing, ", "), strings.Join(names(all), ", "))
	}
	return out, nil
}

func find(infos []TensorInfo, name string) (TensorInfo, bool) {
	for _, t := range infos {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

func names(infos []TensorInfo) []string {
	out := make([]string, len(infos))
	for i, t := range infos {
		out[i] = t.Name
	}
	return out
}

// destroy frees an ONNX Runtime object whose release error nobody can act on (options, a tensor of
// one run): it is dropped.
func destroy(o interface{ Destroy() error }) { _ = o.Destroy() }
