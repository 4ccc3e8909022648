namespace Vdi.Server.Cluster;

/// <summary>
/// The PostgreSQL side of Orleans' ADO.NET membership (Microsoft.Orleans.Clustering.AdoNet), applied by a migration of
/// the broker's own database, so hosts need no script run by hand. The provider reads its statements by key from
/// <c>OrleansQuery</c>, binds parameters by name (<c>@DeploymentId</c>, <c>@Address</c>, …) and reads columns by name;
/// those names, and the meaning of each statement, are its contract. Writes are optimistic: a row changes only while
/// the deployment's version is the one the caller read, and the version moves with it, in one statement (the version
/// row is locked first, so of two hosts writing at once the second finds the version moved and changes nothing).
/// Each write answers one row with one column: how many rows it changed (0 is "no", and Orleans reads the table again).
/// </summary>
public static class OrleansMembershipSchema
{
    public const string Create = """
        CREATE TABLE OrleansQuery
        (
            QueryKey varchar(64) NOT NULL CONSTRAINT OrleansQuery_Key PRIMARY KEY,
            QueryText varchar(8000) NOT NULL
        );

        -- One row per deployment (cluster): its membership version, moved by every change.
        CREATE TABLE OrleansMembershipVersionTable
        (
            DeploymentId varchar(150) NOT NULL CONSTRAINT PK_OrleansMembershipVersionTable_DeploymentId PRIMARY KEY,
            Timestamp timestamptz(3) NOT NULL DEFAULT now(),
            Version integer NOT NULL DEFAULT 0
        );

        -- One row per host process (silo) that joined: its address and generation, status and last sign of life.
        CREATE TABLE OrleansMembershipTable
        (
            DeploymentId varchar(150) NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
            Address varchar(45) NOT NULL,
            Port integer NOT NULL,
            Generation integer NOT NULL,
            SiloName varchar(150) NOT NULL,
            HostName varchar(150) NOT NULL,
            Status integer NOT NULL,
            ProxyPort integer NULL,
            SuspectTimes varchar(8000) NULL,
            StartTime timestamptz(3) NOT NULL,
            IAmAliveTime timestamptz(3) NOT NULL,
            CONSTRAINT PK_MembershipTable_DeploymentId PRIMARY KEY (DeploymentId, Address, Port, Generation)
        );

        INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
        ('InsertMembershipVersionKey', '
            WITH made AS (
                INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId)
                ON CONFLICT (DeploymentId) DO NOTHING
                RETURNING 1)
            SELECT count(*)::integer FROM made;'),

        ('InsertMembershipKey', '
            WITH seen AS (
                SELECT DeploymentId FROM OrleansMembershipVersionTable
                WHERE DeploymentId = @DeploymentId AND Version = @Version
                FOR UPDATE),
            joined AS (
                INSERT INTO OrleansMembershipTable
                    (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
                SELECT seen.DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime
                FROM seen
                ON CONFLICT (DeploymentId, Address, Port, Generation) DO NOTHING
                RETURNING DeploymentId),
            moved AS (
                UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = now()
                WHERE DeploymentId IN (SELECT DeploymentId FROM joined)
                RETURNING 1)
            SELECT count(*)::integer FROM moved;'),

        ('UpdateMembershipKey', '
            WITH seen AS (
                SELECT DeploymentId FROM OrleansMembershipVersionTable
                WHERE DeploymentId = @DeploymentId AND Version = @Version
                FOR UPDATE),
            changed AS (
                UPDATE OrleansMembershipTable SET Status = @Status, SuspectTimes = @SuspectTimes, IAmAliveTime = @IAmAliveTime
                WHERE DeploymentId IN (SELECT DeploymentId FROM seen)
                    AND Address = @Address AND Port = @Port AND Generation = @Generation
                RETURNING DeploymentId),
            moved AS (
                UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = now()
                WHERE DeploymentId IN (SELECT DeploymentId FROM changed)
                RETURNING 1)
            SELECT count(*)::integer FROM moved;'),

        -- The heartbeat of a host: not versioned, never refused.
        ('UpdateIAmAlivetimeKey', '
            UPDATE OrleansMembershipTable SET IAmAliveTime = @IAmAliveTime
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation;'),

        -- The version row always comes back, with the columns of the member when it exists (else NULL).
        ('MembershipReadRowKey', '
            SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
                   m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
            FROM OrleansMembershipVersionTable v
            LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
                AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
            WHERE v.DeploymentId = @DeploymentId;'),

        ('MembershipReadAllKey', '
            SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
                   m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
            FROM OrleansMembershipVersionTable v
            LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
            WHERE v.DeploymentId = @DeploymentId;'),

        ('DeleteMembershipTableEntriesKey', '
            DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
            DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId;'),

        ('GatewaysQueryKey', '
            SELECT Address, ProxyPort, Generation FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0;'),

        -- Rows of hosts long gone (not Active, status 3) whose last sign of life is older than the cut-off.
        ('CleanupDefunctSiloEntriesKey', '
            DELETE FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status <> 3;');
        """;

    public const string Drop = """
        DROP TABLE OrleansMembershipTable;
        DROP TABLE OrleansMembershipVersionTable;
        DROP TABLE OrleansQuery;
        """;
}
