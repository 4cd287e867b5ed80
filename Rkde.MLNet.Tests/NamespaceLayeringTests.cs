using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Rkde.MLNet.Tests;

/// <summary>
/// The namespaces of Rkde.MLNet follow its folders and must not cycle: Checks ← Onnx ← DefaultModel ← Regions ← Features,
/// DefaultModel ← NanoDet, Checks ← Images, Checks ← Onnx ← Density, Pipeline (the fitted model as one graph, and its chain)
/// above those, Files (atomic writes) below every one, and the root namespace (the public entry points) above them all. Checked on the compiled assembly, so a
/// reference counts wherever it hides: in a signature, a base type, an attribute, a local, a catch clause or an instruction
/// of a method body, and also when C# resolves a parent namespace's type without a using. A compiler-generated nested type
/// (a lambda's closure, an iterator) counts for the type it is nested in.
/// </summary>
[TestClass]
public sealed class NamespaceLayeringTests
{
    private const string Root = "Rkde.MLNet";

    /// <summary>Each namespace (without the root's prefix) and the namespaces it may use; the root may use all.</summary>
    private static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Files"] = [],
        ["Checks"] = [],
        ["Onnx"] = ["Checks", "Files"],
        ["DefaultModel"] = ["Onnx", "Checks", "Files"],
        ["Regions"] = ["DefaultModel", "Onnx", "Checks", "Files"],
        ["Features"] = ["Regions", "DefaultModel", "Onnx", "Checks", "Files"],
        ["NanoDet"] = ["DefaultModel", "Onnx", "Checks", "Files"],
        ["Density"] = ["Onnx", "Checks", "Files"],
        ["Images"] = ["Checks", "Files"],
        ["Pipeline"] = ["Features", "Regions", "DefaultModel", "Density", "Images", "Onnx", "Checks", "Files"],
    };

    [TestMethod]
    public void NamespacesUseOnlyTheLayersBelowThem()
    {
        var edges = References(typeof(RkdeCatalog).Assembly.Location);
        var namespaces = edges.Select(e => e.From.Namespace).Concat(edges.Select(e => e.To.Namespace)).Distinct().ToList();
        var unknown = namespaces.Where(n => n != Root && !MayUse.ContainsKey(Layer(n))).ToList();
        Assert.IsEmpty(unknown, $"namespaces without a place in the layering (add them to {nameof(MayUse)}): {string.Join(", ", unknown)}");

        var violations = edges
            .Where(e => e.From.Namespace != Root && e.From.Namespace != e.To.Namespace && !MayUse[Layer(e.From.Namespace)].Contains(Layer(e.To.Namespace)))
            .GroupBy(e => (e.From.Namespace, e.To.Namespace))
            .Select(g => $"{g.Key.Item1} → {g.Key.Item2} ({string.Join(", ", g.Select(e => $"{e.From.Name} uses {e.To.Name}").Distinct().Take(3))})")
            .ToList();
        Assert.IsEmpty(violations, "namespace layering broken:\n" + string.Join("\n", violations));
    }

    /// <summary>The checker itself sees the references the rule is about (so that an empty result cannot pass silently).</summary>
    [TestMethod]
    public void TheCheckerSeesReferencesInSignaturesBodiesAndClosures()
    {
        var edges = References(typeof(RkdeCatalog).Assembly.Location);
        bool Has(string from, string to) => edges.Any(e => e.From.Name == from && e.To.Name == to);
        Assert.IsTrue(Has("RkdeCatalog", "RkdeEstimator"), "return type");
        Assert.IsTrue(Has("RkdeEstimator", "ReadableImages"), "a static call in a method body");
        Assert.IsTrue(Has("RkdeEstimator", "GpuFallback"), "a call inside a lambda (compiler-generated closure)");
        Assert.IsTrue(Has("ProposerSlot", "DefaultModels"), "a call inside a lambda");
        Assert.IsTrue(Has("RkdeDensityOptions", "OptionChecks"), "a static call");
    }

    private static string Layer(string ns) => ns.StartsWith(Root + ".", StringComparison.Ordinal) ? ns[(Root.Length + 1)..] : ns;

    private sealed record TypeName(string Namespace, string Name);

    /// <summary>Every (type, referenced type) pair among the assembly's own types in the Rkde.MLNet namespaces.</summary>
    private static List<(TypeName From, TypeName To)> References(string assemblyPath)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var reader = pe.GetMetadataReader();
        var provider = new OwnTypes(reader);
        var edges = new HashSet<(TypeName, TypeName)>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var from = Outermost(reader, handle);
            if (!IsOurs(from))
                continue;
            foreach (var target in ReferencedTypes(reader, pe, provider, reader.GetTypeDefinition(handle)))
            {
                var to = Outermost(reader, target);
                if (IsOurs(to) && to != from)
                    edges.Add((from, to));
            }
        }
        return [.. edges];
    }

    private static bool IsOurs(TypeName type) => type.Namespace == Root || type.Namespace.StartsWith(Root + ".", StringComparison.Ordinal);

    private static TypeName Outermost(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.IsNested)
            type = reader.GetTypeDefinition(type.GetDeclaringType());
        return new TypeName(reader.GetString(type.Namespace), reader.GetString(type.Name));
    }

    private static IEnumerable<TypeDefinitionHandle> ReferencedTypes(MetadataReader reader, PEReader pe, OwnTypes provider, TypeDefinition type)
    {
        var found = new List<TypeDefinitionHandle>();
        void Add(EntityHandle handle) => found.AddRange(provider.Resolve(handle));
        void Attributes(CustomAttributeHandleCollection attributes)
        {
            foreach (var a in attributes)
                Add(reader.GetCustomAttribute(a).Constructor);
        }
        void GenericParameters(GenericParameterHandleCollection parameters)
        {
            foreach (var p in parameters)
            {
                foreach (var c in reader.GetGenericParameter(p).GetConstraints())
                    Add(reader.GetGenericParameterConstraint(c).Type);
            }
        }

        if (!type.BaseType.IsNil)
            Add(type.BaseType);
        foreach (var i in type.GetInterfaceImplementations())
            Add(reader.GetInterfaceImplementation(i).Interface);
        Attributes(type.GetCustomAttributes());
        GenericParameters(type.GetGenericParameters());
        foreach (var f in type.GetFields())
        {
            var field = reader.GetFieldDefinition(f);
            found.AddRange(field.DecodeSignature(provider, null));
            Attributes(field.GetCustomAttributes());
        }
        foreach (var p in type.GetProperties())
        {
            var property = reader.GetPropertyDefinition(p);
            var signature = property.DecodeSignature(provider, null);
            found.AddRange(signature.ReturnType.Concat(signature.ParameterTypes.SelectMany(t => t)));
            Attributes(property.GetCustomAttributes());
        }
        foreach (var e in type.GetEvents())
            Add(reader.GetEventDefinition(e).Type);
        foreach (var m in type.GetMethods())
        {
            var method = reader.GetMethodDefinition(m);
            var signature = method.DecodeSignature(provider, null);
            found.AddRange(signature.ReturnType.Concat(signature.ParameterTypes.SelectMany(t => t)));
            Attributes(method.GetCustomAttributes());
            GenericParameters(method.GetGenericParameters());
            foreach (var p in method.GetParameters())
                Attributes(reader.GetParameter(p).GetCustomAttributes());
            if (method.RelativeVirtualAddress == 0)
                continue;
            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            if (!body.LocalSignature.IsNil)
                found.AddRange(reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null).SelectMany(t => t));
            foreach (var region in body.ExceptionRegions)
            {
                if (!region.CatchType.IsNil)
                    Add(region.CatchType);
            }
            foreach (var token in Tokens(body.GetILBytes()!))
                Add(MetadataTokens.EntityHandle(token));
        }
        return found;
    }

    /// <summary>Operand sizes of every IL opcode, from <see cref="OpCodes"/>.</summary>
    private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    /// <summary>The metadata tokens that a method body's instructions carry (types, fields, methods, signatures).</summary>
    private static IEnumerable<int> Tokens(byte[] il)
    {
        for (int i = 0; i < il.Length;)
        {
            short code = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var operand = Operands[code];
            switch (operand)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType or OperandType.InlineSig:
                    yield return BitConverter.ToInt32(il, i);
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                default:
                    i += 4;
                    break;
            }
        }
    }

    /// <summary>Decodes signatures and handles into the assembly's own type definitions they mention.</summary>
    private sealed class OwnTypes(MetadataReader reader) : ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>
    {
        private static readonly ImmutableArray<TypeDefinitionHandle> None = [];

        public ImmutableArray<TypeDefinitionHandle> Resolve(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    return [(TypeDefinitionHandle)handle];
                case HandleKind.TypeSpecification:
                    return reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                case HandleKind.MethodDefinition:
                    return [reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()];
                case HandleKind.FieldDefinition:
                    return [reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()];
                case HandleKind.MethodSpecification:
                    var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    return [.. Resolve(spec.Method), .. spec.DecodeSignature(this, null).SelectMany(t => t)];
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    var parent = member.Parent.Kind is HandleKind.TypeDefinition or HandleKind.TypeSpecification or HandleKind.MethodDefinition
                        ? Resolve(member.Parent)
                        : None;
                    if (member.GetKind() == MemberReferenceKind.Field)
                        return [.. parent, .. member.DecodeFieldSignature(this, null)];
                    var signature = member.DecodeMethodSignature(this, null);
                    return [.. parent, .. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];
                case HandleKind.StandaloneSignature:
                    var standalone = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (standalone.GetKind() != StandaloneSignatureKind.Method)
                        return None;
                    var call = standalone.DecodeMethodSignature(this, null);
                    return [.. call.ReturnType, .. call.ParameterTypes.SelectMany(t => t)];
                default:
                    return None;
            }
        }

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => None;
        public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            r.GetTypeSpecification(handle).DecodeSignature(this, context);
        public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;
        public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? context, int index) => None;
        public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;
        public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(t => t)];
        public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) =>
            [.. modifier, .. unmodifiedType];
        public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];
    }
}
