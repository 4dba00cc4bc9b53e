import {
  type Attributes,
  DataTypes,
  type Model,
  type ModelAttributes,
  type ModelStatic,
  type Sequelize,
} from 'sequelize';

/**
 * What every model shares. Column names are snake_case in SQL, camelCase in code; the SQL
 * migrations own the schema (never `sync`), and test/foundation/models-schema.test.ts holds each
 * model to it.
 *
 * Sequelize's automatic timestamps stay off: writers set `updatedAt` themselves (a soft delete
 * stamps `deletedAt` and `updatedAt` with one instant), and the columns' defaults cover creates.
 */
export function bindModel<M extends Model>(
  base: ModelStatic<M>,
  sequelize: Sequelize,
  tableName: string,
  attributes: ModelAttributes<M, Attributes<M>>,
): ModelStatic<M> {
  // A fresh subclass per Sequelize instance: `init` binds a class to one connection, and a process
  // may hold two databases at once (tests do).
  const Base = base as unknown as new () => M;
  const bound = class extends Base {} as unknown as ModelStatic<M>;
  Object.defineProperty(bound, 'name', { value: base.name });
  bound.init(attributes, {
    sequelize,
    tableName,
    modelName: base.name,
    underscored: true,
    freezeTableName: true,
    timestamps: false,
  });
  return bound;
}

// Column factories, not shared objects: Sequelize writes into each attribute definition it is given.
export const uuidPk = () => ({
  type: DataTypes.UUID,
  primaryKey: true,
  allowNull: false,
  defaultValue: DataTypes.UUIDV4,
});
export const serialPk = () => ({ type: DataTypes.BIGINT, primaryKey: true, allowNull: false, autoIncrement: true });
export const textPk = () => ({ type: DataTypes.TEXT, primaryKey: true, allowNull: false });
export const uuid = () => ({ type: DataTypes.UUID, allowNull: false });
export const nullableUuid = () => ({ type: DataTypes.UUID, allowNull: true });
export const text = () => ({ type: DataTypes.TEXT, allowNull: false });
export const nullableText = () => ({ type: DataTypes.TEXT, allowNull: true });
export const textWithDefault = (defaultValue: string) => ({ ...text(), defaultValue });
export const integer = (defaultValue: number) => ({ type: DataTypes.INTEGER, allowNull: false, defaultValue });
export const nullableInteger = () => ({ type: DataTypes.INTEGER, allowNull: true });
export const boolean = (defaultValue: boolean) => ({ type: DataTypes.BOOLEAN, allowNull: false, defaultValue });
export const date = () => ({ type: DataTypes.DATE, allowNull: false });
export const now = () => ({ ...date(), defaultValue: DataTypes.NOW });
export const nullableDate = () => ({ type: DataTypes.DATE, allowNull: true });
export const json = () => ({ type: DataTypes.JSONB, allowNull: false });
export const jsonObject = () => ({ ...json(), defaultValue: {} });
export const nullableJson = () => ({ type: DataTypes.JSONB, allowNull: true });
export const textArray = () => ({ type: DataTypes.ARRAY(DataTypes.TEXT), allowNull: false, defaultValue: [] });
