namespace Vdi.Vmm.Tests.Migration;

/// <summary>
/// The migration tests run one at a time: each keeps two vCPUs of the A-B guest busy (or a desktop) on both ends, and
/// side by side on a 2-core host they would starve each other and every other assembly's timing-sensitive tests.
/// </summary>
[CollectionDefinition(Name)]
public sealed class MigrationCollection
{
    public const string Name = "migration";
}
