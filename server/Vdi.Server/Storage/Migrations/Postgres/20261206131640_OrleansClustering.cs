using Microsoft.EntityFrameworkCore.Migrations;
using Vdi.Server.Cluster;

#nullable disable

namespace Vdi.Server.Storage.Migrations.Postgres
{
    /// <summary>The tables and queries of Orleans' ADO.NET membership (<see cref="OrleansMembershipSchema"/>); PostgreSQL only.</summary>
    public partial class OrleansClustering : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(OrleansMembershipSchema.Create);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(OrleansMembershipSchema.Drop);
        }
    }
}
