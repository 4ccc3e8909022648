using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vdi.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DesktopHostName : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "HostName",
                table: "Desktops",
                type: "TEXT",
                maxLength: 150,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Desktops_HostName",
                table: "Desktops",
                column: "HostName");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Desktops_HostName",
                table: "Desktops");

            migrationBuilder.DropColumn(
                name: "HostName",
                table: "Desktops");
        }
    }
}
